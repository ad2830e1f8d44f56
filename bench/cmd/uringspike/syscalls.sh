#!/bin/bash
# syscalls.sh LABEL SERVER-COMMAND...: system calls per message of one
# server at the fixed load of bench/scripts/costab.sh (same pinning, same
# load, LOADARGS likewise), counted with perf's syscall tracepoints over 4 s
# of the run, plus the server's user/system CPU split (from /proc) over the
# same window. PORT in the command is replaced by a free-ish port.
set -u
SBENCH=${SBENCH:-/tmp/sbench}
label=$1
shift
port=$((7900 + RANDOM % 500))
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
ev=raw_syscalls:sys_enter
for s in read write epoll_wait epoll_pwait epoll_ctl io_uring_enter futex nanosleep sched_yield tgkill rt_sigreturn getpid; do
	ev+=",syscalls:sys_enter_$s"
done
t0=($(awk '{print $14, $15}' /proc/$pid/stat))
perf stat -x, -e "$ev" -p "$pid" -- sleep 4 2>"$stat"
t1=($(awk '{print $14, $15}' /proc/$pid/stat))
wait "$lpid"
kill "$pid"
wait "$pid" 2>/dev/null
msgs=$(sed -n 's/.*msgs_per_sec=\([0-9.]*\).*/\1/p' "$load")
hz=$(getconf CLK_TCK)
awk -F, -v m="$msgs" -v e="$label" -v ut=$((t1[0] - t0[0])) -v st=$((t1[1] - t0[1])) -v hz="$hz" '
	{ n = $3; sub(/.*sys_enter_?/, "", n); if (n == "") n = "all"; if ($1 + 0 > 0) out = out sprintf(" %s=%.3f", n, $1 / (4 * m)) }
	END { printf "%-12s per msg:%s  (user %.0f%% sys %.0f%% of the CPU time; %d msg/s)\n", e, out, 100 * ut / (ut + st + 1e-9), 100 * st / (ut + st + 1e-9), m }' "$stat"
