#!/bin/bash
# measure.sh ROUNDS MODE VARIANT...: run bench/scripts/costab.sh for each
# variant in turn, round after round (alternation, as the box is shared),
# at the load in LOADARGS (costab's default: 64-byte echo at 30,000/s).
# MODE is echo or http. A variant is one of:
#   C            the C reference, $SBENCH/bin/cepoll
#   eddy         eddy's own server ($EDDY: echo, or serve -quiet for http)
#   NAME:ARGS    uringspike ($SPIKE) with ARGS (comma-separated), e.g.
#                uring-raw:-backend,uring,-call,raw
# Output: costab's line per run, prefixed with the round number.
set -u
SBENCH=${SBENCH:-/tmp/sbench}
S=$(dirname "$0")/../../scripts/costab.sh
rounds=$1 mode=$2
shift 2
for r in $(seq 1 "$rounds"); do
	for v in "$@"; do
		case $v in
		C) cmd=("$SBENCH/bin/cepoll" -addr 127.0.0.1:PORT -mode "$mode") ;;
		eddy)
			if [[ $mode == http ]]; then
				cmd=(env GOMAXPROCS=1 "$EDDY" serve -addr 127.0.0.1:PORT -quiet)
			else
				cmd=(env GOMAXPROCS=1 "$EDDY" echo -addr 127.0.0.1:PORT)
			fi ;;
		*:*)
			IFS=, read -r -a extra <<<"${v#*:}"
			cmd=(env GOMAXPROCS=1 "$SPIKE" -addr 127.0.0.1:PORT -mode "$mode" "${extra[@]}")
			v=${v%%:*} ;;
		*) echo "bad variant $v" >&2; exit 2 ;;
		esac
		echo "$r $("$S" "$v" "${cmd[@]}" 2>&1)"
	done
done
