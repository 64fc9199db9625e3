#!/usr/bin/env bash
# bench/bench_get_root.sh -- GET / through nginx -> Omni, beside nginx
# answering `return 200` itself, in the same run; prints both requests/s and
# the ratio.  A ratio, not a timed test: the numbers depend on the machine.
#
#   bench/bench_get_root.sh            (make bench builds the binary first)
#   WRK_ARGS="-t2 -c64 -d10s"          wrk arguments (default as shown)
#   OMNI_BIN, OMNI_WORKERS, OMNI_THREADS, LOG_LEVEL   as for the pool
#
# Only 127.0.0.1 is used; everything started here is stopped by PID.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

WRK_ARGS=${WRK_ARGS:--t2 -c64 -d10s}
RUN_PREFIX=omni-bench
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

# A production-like pool: info logging on (one JSON line per request, to a
# file), no debug routes.
start_pool OMNI_ENV="${OMNI_ENV:-development}" LOG_LEVEL="${LOG_LEVEL:-info}"
start_nginx --bench
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/__nginx_return_200" ||
	die "the bench location is missing from the rendered config"

echo "bench: wrk $WRK_ARGS, pool $WORKERS workers x $THREADS threads, $(nproc) cores" >&2
echo "bench: GET / through nginx -> Omni" >&2
OMNI_RPS=$(run_wrk "http://127.0.0.1:$PORT/")
echo "bench: nginx return 200 (no Omni)" >&2
NGINX_RPS=$(run_wrk "http://127.0.0.1:$PORT/__nginx_return_200")
report "GET / via nginx+Omni" "$OMNI_RPS" "nginx return 200" "$NGINX_RPS"
