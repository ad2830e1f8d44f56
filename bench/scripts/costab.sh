#!/bin/bash
# costab.sh LABEL SERVER-COMMAND...: CPU per message of one server at a
# fixed offered load, for A/B comparisons run in alternation (the box is
# shared: interleave the variants and compare medians of many rounds).
#
# The server runs on CPU 0 and the shared harness's load generator
# (echoload, built by ../shared/bench/run.sh into $SBENCH/bin) on CPU 1,
# 100 connections for 6 s after a 1 s warm-up; the server's task-clock is
# read with perf stat over 4 s of that window. PORT in the command is
# replaced by a free-ish port. LOADARGS overrides the load's arguments
# (default: 64-byte echo at 30,000 msgs/s; "-proto http -rate 30000" for
# HTTP). Prints: LABEL, µs of server CPU per message, context switches per
# message, messages per second reached.
#
# Example, eddy against the C reference:
#   for i in 1 2 3 4 5; do
#     bench/scripts/costab.sh C $SBENCH/bin/cepoll -addr 127.0.0.1:PORT -mode echo
#     bench/scripts/costab.sh eddy env GOMAXPROCS=1 /tmp/eddy echo -addr 127.0.0.1:PORT
#   done
set -u
SBENCH=${SBENCH:-/tmp/sbench}
label=$1
shift
port=$((7400 + RANDOM % 500))
args=("${@//PORT/$port}")
taskset -c 0 "${args[@]}" >/dev/null 2>&1 &
pid=$!
sleep 0.3
load=$(mktemp)
stat=$(mktemp)
trap 'rm -f "$load" "$stat"' EXIT
# shellcheck disable=SC2086
taskset -c 1 env GOMAXPROCS=1 "$SBENCH/bin/echoload" -addr "127.0.0.1:$port" -c 100 -d 6s -warmup 1s \
	${LOADARGS:--size 64 -rate 30000} >"$load" 2>&1 &
lpid=$!
sleep 1.5
perf stat -x, -e task-clock,context-switches -p "$pid" -- sleep 4 2>"$stat"
wait "$lpid"
kill "$pid"
wait "$pid" 2>/dev/null
msgs=$(sed -n 's/.*msgs_per_sec=\([0-9.]*\).*/\1/p' "$load")
tc=$(grep task-clock "$stat" | cut -d, -f1)
cs=$(grep context-switches "$stat" | cut -d, -f1)
if [[ -z $msgs || -z $tc ]]; then
	echo "$label: no result (load: $(tail -1 "$load"))" >&2
	exit 1
fi
awk -v tc="$tc" -v m="$msgs" -v cs="$cs" -v e="$label" \
	'BEGIN { printf "%-12s %.2f us/msg  %.2f cs/msg  (%d msg/s)\n", e, tc * 1000 / (4 * m), cs / (4 * m), m }'
