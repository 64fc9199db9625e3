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

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${OMNI_BIN:-$ROOT/build/omni-fcgi}
WRK_ARGS=${WRK_ARGS:--t2 -c64 -d10s}
WORKERS=${OMNI_WORKERS:-$(nproc)}
THREADS=${OMNI_THREADS:-16}
RUN_DIR=$(mktemp -d /tmp/omni-bench.XXXXXX)
SOCK=$RUN_DIR/omni.sock

die() { echo "bench: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk is not installed (make deps)"
command -v nginx >/dev/null || die "nginx is not installed (make deps)"
[ -x "$BIN" ] || die "$BIN not found: run make"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
POOL_PID=
NGINX_PID=

stop_pid() {
	local pid=$1 i=0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	stop_pid "$NGINX_PID"
	stop_pid "$POOL_PID"
	rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A production-like pool: info logging on (one JSON line per request, to a
# file), no debug routes.
OMNI_ENV=${OMNI_ENV:-development} LOG_LEVEL=${LOG_LEVEL:-info} \
	OMNI_DATA_DIR=$RUN_DIR/data \
	"$BIN" --listen "unix:$SOCK" --workers "$WORKERS" --threads "$THREADS" \
	2>"$RUN_DIR/omni.log" &
POOL_PID=$!
for _ in $(seq 100); do
	[ -S "$SOCK" ] && break
	kill -0 "$POOL_PID" 2>/dev/null || die "the pool did not start: $(tail -3 "$RUN_DIR/omni.log")"
	sleep 0.1
done

python3 "$ROOT/scripts/render-front.py" nginx --run-dir "$RUN_DIR" \
	--port "$PORT" --socket "$SOCK" --bench \
	--pool-threads $((WORKERS * THREADS)) --out "$RUN_DIR/nginx.conf"
nginx -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/logs/nginx-stderr.log" \
	-g 'daemon off;' &
NGINX_PID=$!
for _ in $(seq 100); do
	curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null && break
	kill -0 "$NGINX_PID" 2>/dev/null || die "nginx did not start"
	sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/__nginx_return_200" ||
	die "the bench location is missing from the rendered config"

# Requests/s from wrk's output, and a check that nothing failed.
run_wrk() {
	local url=$1 out rps
	# shellcheck disable=SC2086
	out=$(wrk $WRK_ARGS "$url")
	echo "$out" >&2
	if echo "$out" | grep -q "Non-2xx\|Socket errors"; then
		echo "bench: errors while benchmarking $url" >&2
	fi
	rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
	[ -n "$rps" ] || die "no Requests/sec in wrk output"
	echo "$rps"
}

echo "bench: wrk $WRK_ARGS, pool $WORKERS workers x $THREADS threads, $(nproc) cores" >&2
echo "bench: GET / through nginx -> Omni" >&2
OMNI_RPS=$(run_wrk "http://127.0.0.1:$PORT/")
echo "bench: nginx return 200 (no Omni)" >&2
NGINX_RPS=$(run_wrk "http://127.0.0.1:$PORT/__nginx_return_200")

python3 - "$OMNI_RPS" "$NGINX_RPS" <<'EOF'
import sys
omni, nginx = float(sys.argv[1]), float(sys.argv[2])
print("GET / via nginx+Omni: %.0f req/s" % omni)
print("nginx return 200:     %.0f req/s" % nginx)
print("ratio Omni/nginx:     %.2f" % (omni / nginx if nginx else 0.0))
EOF
