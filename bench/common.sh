# bench/common.sh -- what the benchmarks share: checks, a run directory,
# the pool and nginx started on 127.0.0.1 and stopped by PID, and wrk.
# Sourced by bash scripts in bench/, after they set RUN_PREFIX and before
# they call start_pool and start_nginx.
#
#   OMNI_BIN, OMNI_WORKERS, OMNI_THREADS   the pool (defaults: build,
#                                          cores, 16)
#   WRK_ARGS                                set by each script's default

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${OMNI_BIN:-$ROOT/build/omni-fcgi}
WORKERS=${OMNI_WORKERS:-$(nproc)}
THREADS=${OMNI_THREADS:-16}
RUN_DIR=$(mktemp -d "/tmp/${RUN_PREFIX:-omni-bench}.XXXXXX")
SOCK=$RUN_DIR/omni.sock
POOL_PID=
NGINX_PID=

die() { echo "bench: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk is not installed (make deps)"
command -v nginx >/dev/null || die "nginx is not installed (make deps)"
[ -x "$BIN" ] || die "$BIN not found: run make"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

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

# start_pool [VAR=value ...]: the pool with these variables added to the
# environment (and the malloc tuning of deploy/malloc.env, as make run
# has it), its log in the run directory; POOL_ARGS adds omni-fcgi
# options (such as --env-file).
start_pool() {
	# shellcheck disable=SC2086
	env "$(grep '^GLIBC_TUNABLES=' "$ROOT/deploy/malloc.env")" \
		"$@" OMNI_DATA_DIR="$RUN_DIR/data" \
		"$BIN" --listen "unix:$SOCK" --workers "$WORKERS" \
		--threads "$THREADS" ${POOL_ARGS:-} 2>"$RUN_DIR/omni.log" &
	POOL_PID=$!
	for _ in $(seq 100); do
		[ -S "$SOCK" ] && return 0
		kill -0 "$POOL_PID" 2>/dev/null ||
			die "the pool did not start: $(tail -3 "$RUN_DIR/omni.log")"
		sleep 0.1
	done
	die "the pool did not create its socket"
}

# start_nginx [render-front.py options ...]: nginx rendered from
# nginx/omni.conf in front of the pool, on $PORT.
start_nginx() {
	python3 "$ROOT/scripts/render-front.py" nginx --run-dir "$RUN_DIR" \
		--port "$PORT" --socket "$SOCK" "$@" \
		--pool-threads $((WORKERS * THREADS)) --out "$RUN_DIR/nginx.conf"
	nginx -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" \
		-e "$RUN_DIR/logs/nginx-stderr.log" -g 'daemon off;' &
	NGINX_PID=$!
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null &&
			return 0
		kill -0 "$NGINX_PID" 2>/dev/null || die "nginx did not start"
		sleep 0.1
	done
	die "nginx did not answer"
}

# run_wrk [wrk options ...] URL: prints requests/s.  Any socket error or
# non-2xx answer makes the number meaningless, so it stops the run.
run_wrk() {
	local out rps
	# shellcheck disable=SC2086
	out=$(wrk $WRK_ARGS "$@")
	echo "$out" >&2
	if echo "$out" | grep -q "Non-2xx\|Socket errors"; then
		die "errors while benchmarking $*"
	fi
	rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
	[ -n "$rps" ] || die "no Requests/sec in wrk output"
	echo "$rps"
}

# report LABEL_A RPS_A LABEL_B RPS_B: both figures and A/B.
report() {
	python3 - "$@" <<'PY'
import sys
la, a, lb, b = sys.argv[1], float(sys.argv[2]), sys.argv[3], float(sys.argv[4])
w = max(len(la), len(lb)) + 1
print("%-*s %.0f req/s" % (w, la + ":", a))
print("%-*s %.0f req/s" % (w, lb + ":", b))
print("%-*s %.2f" % (w, "ratio:", a / b if b else 0.0))
PY
}
