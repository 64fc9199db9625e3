#!/usr/bin/env bash
# bench/bench_metrics.sh -- what counting costs: GET / through nginx ->
# Omni with OMNI_METRICS=1 and with OMNI_METRICS=0, on the same pool and
# nginx, switched by a reload (SIGHUP re-reads the env file), alternated
# ROUNDS times; prints the median requests/s of each and the ratio.
#
#   bench/bench_metrics.sh             (make bench-metrics builds first)
#   WRK_ARGS="-t2 -c64 -d8s"  ROUNDS=3
#   OMNI_BIN, OMNI_WORKERS, OMNI_THREADS, LOG_LEVEL   as for the pool
#
# Only 127.0.0.1 is used; everything started here is stopped by PID.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

WRK_ARGS=${WRK_ARGS:--t2 -c64 -d8s}
ROUNDS=${ROUNDS:-3}
RUN_PREFIX=omni-bench-metrics
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

ENV_FILE=$RUN_DIR/omni.env
echo "OMNI_METRICS=1" >"$ENV_FILE"
POOL_ARGS="--env-file $ENV_FILE"
start_pool OMNI_ENV=development LOG_LEVEL="${LOG_LEVEL:-info}"
start_nginx

# switch 0|1: reload with OMNI_METRICS set so, and wait until GET /metrics
# says the new setting is in force (200 counting, 404 off).
switch() {
	local want=404 i=0
	[ "$1" = 1 ] && want=200
	echo "OMNI_METRICS=$1" >"$ENV_FILE"
	kill -HUP "$POOL_PID"
	while [ $i -lt 100 ]; do
		code=$(curl -s -o /dev/null -w '%{http_code}' \
			"http://127.0.0.1:$PORT/metrics")
		[ "$code" = "$want" ] && { sleep 1; return 0; }
		sleep 0.1
		i=$((i + 1))
	done
	die "OMNI_METRICS=$1 did not take effect"
}

echo "bench: wrk $WRK_ARGS, $ROUNDS rounds, pool $WORKERS workers x $THREADS threads" >&2
ON=() OFF=()
for _ in $(seq "$ROUNDS"); do
	switch 1
	ON+=("$(run_wrk "http://127.0.0.1:$PORT/")")
	switch 0
	OFF+=("$(run_wrk "http://127.0.0.1:$PORT/")")
done
python3 - "${ON[*]}" "${OFF[*]}" "$WRK_ARGS" <<'PY'
import statistics, sys
on = [float(x) for x in sys.argv[1].split()]
off = [float(x) for x in sys.argv[2].split()]
print("## GET / with metrics on and off\n")
print("Same pool and nginx, OMNI_METRICS switched by a reload; wrk `%s`, "
      "%d rounds alternated.\n" % (sys.argv[3], len(on)))
print("| OMNI_METRICS | median req/s | rounds |")
print("|---|---|---|")
print("| 1 | %.0f | %s |" % (statistics.median(on),
                           ", ".join("%.0f" % x for x in on)))
print("| 0 | %.0f | %s |" % (statistics.median(off),
                           ", ".join("%.0f" % x for x in off)))
print("| **ratio on / off** | **%.2f** | |"
      % (statistics.median(on) / statistics.median(off)))
PY
