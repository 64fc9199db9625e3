#!/usr/bin/env bash
# bench/bench_get_root.sh -- GET / through nginx -> Omni, beside nginx
# answering `return 200` itself, in the same run; prints both requests/s and
# the ratio, as a markdown section on stdout (progress on stderr).  A
# ratio, not a timed test: the numbers depend on the machine.
#
#   bench/bench_get_root.sh            (make bench builds the binary first)
#   WRK_ARGS="-t2 -c64 -d8s"           wrk arguments (default as shown)
#   ROUNDS=3                           alternated rounds; medians reported
#   OMNI_BIN, OMNI_WORKERS, OMNI_THREADS, LOG_LEVEL   as for the pool
#
# Only 127.0.0.1 is used; everything started here is stopped by PID.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

WRK_ARGS=${WRK_ARGS:--t2 -c64 -d8s}
ROUNDS=${ROUNDS:-3}
RUN_PREFIX=omni-bench
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

# A production-like pool: info logging on (one JSON line per request, to a
# file), no debug routes.
start_pool OMNI_ENV="${OMNI_ENV:-development}" LOG_LEVEL="${LOG_LEVEL:-info}"
start_nginx --bench
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/__nginx_return_200" ||
	die "the bench location is missing from the rendered config"

echo "bench: wrk $WRK_ARGS, $ROUNDS rounds, pool $WORKERS workers x $THREADS threads, $(nproc) cores" >&2
OMNI=() NGINX=()
for _ in $(seq "$ROUNDS"); do
	echo "bench: GET / through nginx -> Omni" >&2
	OMNI+=("$(run_wrk "http://127.0.0.1:$PORT/")")
	echo "bench: nginx return 200 (no Omni)" >&2
	NGINX+=("$(run_wrk "http://127.0.0.1:$PORT/__nginx_return_200")")
done
python3 - "${OMNI[*]}" "${NGINX[*]}" "$WRK_ARGS" "$WORKERS" "$THREADS" "$(nproc)" <<'PY'
import statistics, sys
omni = [float(x) for x in sys.argv[1].split()]
ngx = [float(x) for x in sys.argv[2].split()]
wrk, workers, threads, cores = sys.argv[3:7]
mo, mn = statistics.median(omni), statistics.median(ngx)
print("## GET / against nginx's own `return 200`\n")
print("wrk `%s`, %d rounds alternated, pool %s workers x %s threads, "
      "%s cores (wrk, nginx and the pool share them).\n"
      % (wrk, len(omni), workers, threads, cores))
print("| what | median req/s | rounds |")
print("|---|---|---|")
print("| GET / via nginx -> Omni | %.0f | %s |"
      % (mo, ", ".join("%.0f" % x for x in omni)))
print("| nginx `return 200` | %.0f | %s |"
      % (mn, ", ".join("%.0f" % x for x in ngx)))
print("| **ratio Omni / nginx** | **%.2f** | goal 0.30 |" % (mo / mn))
PY
