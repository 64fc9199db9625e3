#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions run from traps
# scripts/run.sh -- what `make run` runs: the local executor (the embedded
# Inngest server) on a loopback port, the Omni pool on a unix socket and a
# front server in the foreground on http://127.0.0.1:${PORT:-8080}.
#
#   FRONT=nginx|caddy   front server (default nginx)
#   PORT=8080           loopback port of the front server
#   OMNI_EXECUTOR=1|0   start build/omni-executor and point Omni's Inngest
#                       origins at it in cloud mode, with a signing key and
#                       an event key generated for this run (default 1;
#                       0 when INNGEST_DEV is set: use the Dev Server)
#   OMNI_EXECUTOR_PORT=8288  its loopback port
#   OMNI_RUN_DIR=DIR    socket, rendered config, logs, data (default build/run)
#   OMNI_BIN=PATH       binary (default build/omni-fcgi)
#   OMNI_ENV_FILE=F     passed to the pool as --env-file
#   any other Omni variable (OMNI_ENV, LOG_LEVEL, OMNI_WORKERS, ...) is
#   passed through; the embedded defaults below make a bare `make run` work.
#
# The front config is rendered from nginx/omni.conf or caddy/Caddyfile by
# scripts/render-front.py.  Ctrl-C (SIGINT) or SIGTERM stops the front
# server, then drains the pool, each by the PID this script started.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FRONT=${FRONT:-nginx}
PORT=${PORT:-8080}
RUN_DIR=${OMNI_RUN_DIR:-$ROOT/build/run}
BIN=${OMNI_BIN:-$ROOT/build/omni-fcgi}
EXEC_BIN=${OMNI_EXECUTOR_BIN:-$ROOT/build/omni-executor}
SOCK=$RUN_DIR/omni.sock
if [ -n "${INNGEST_DEV:-}" ] && [ "${INNGEST_DEV}" != 0 ]; then
	USE_EXECUTOR=${OMNI_EXECUTOR:-0}
else
	USE_EXECUTOR=${OMNI_EXECUTOR:-1}
fi
EXEC_PORT=${OMNI_EXECUTOR_PORT:-8288}

# glibc's malloc tuned for the pool (deploy/malloc.env says why).
if [ -z "${GLIBC_TUNABLES+set}" ]; then
	GLIBC_TUNABLES=$(sed -n 's/^GLIBC_TUNABLES=//p' "$ROOT/deploy/malloc.env")
	export GLIBC_TUNABLES
fi
# Embedded defaults: a development profile that needs no account.
export OMNI_ENV=${OMNI_ENV:-development}
export LOG_LEVEL=${LOG_LEVEL:-info}
export OMNI_DATA_DIR=${OMNI_DATA_DIR:-$RUN_DIR/data}
# The founder workspace every new local sandbox starts from.
if [ -z "${OMNI_WORKSPACE_TEMPLATE+set}" ] && [ -d "$ROOT/sandbox-image/workspace" ]; then
	export OMNI_WORKSPACE_TEMPLATE=$ROOT/sandbox-image/workspace
fi
# With no agent account, the example agent (sandbox-image/workspace/
# .omni-system/example-agent.sh) does deterministic work on the notes; set
# OMNI_AGENT_CMD (and OMNI_AGENT_KEY_NAME, OMNI_AGENT_KEY) for the real CLI.
if [ -z "${OMNI_AGENT_CMD+set}" ]; then
	export OMNI_AGENT_CMD="sh .omni-system/example-agent.sh"
	export OMNI_AGENT_KEY_NAME=${OMNI_AGENT_KEY_NAME-}
fi
export OMNI_AGENT_POLL=${OMNI_AGENT_POLL:-2}
export PORT
WORKERS=${OMNI_WORKERS:-$(nproc)}
[ "$WORKERS" -gt 0 ] 2>/dev/null || WORKERS=$(nproc)
THREADS=${OMNI_THREADS:-16}

die() { echo "run: $*" >&2; exit 1; }

case $FRONT in
nginx | caddy) ;;
*) die "FRONT must be nginx or caddy (got '$FRONT')" ;;
esac
command -v "$FRONT" >/dev/null || die "$FRONT is not installed (make deps)"
[ -x "$BIN" ] || die "$BIN not found: run make"
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if port_busy "$PORT"; then die "port $PORT on 127.0.0.1 is in use: set PORT"; fi
if [ "$USE_EXECUTOR" = 1 ]; then
	[ -x "$EXEC_BIN" ] || die "$EXEC_BIN not found: run make"
	if port_busy "$EXEC_PORT"; then
		die "port $EXEC_PORT on 127.0.0.1 is in use: set OMNI_EXECUTOR_PORT"
	fi
fi

mkdir -p "$RUN_DIR/logs" "$OMNI_DATA_DIR"
rm -f "$SOCK"

POOL_PID=
FRONT_PID=
EXEC_PID=
stopping=0

# Stop one process by PID: signal, wait up to $3 seconds, then SIGKILL.
stop_pid() {
	local pid=$1 sig=$2 limit=$3 i=0
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
	kill "-$sig" "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null && [ "$i" -lt $((limit * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "run: $pid did not stop in ${limit}s, killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	[ "$stopping" -eq 0 ] || return 0
	stopping=1
	trap '' INT TERM
	echo "run: stopping" >&2
	stop_pid "$FRONT_PID" TERM 10
	stop_pid "$POOL_PID" TERM $((${OMNI_SHUTDOWN_TIMEOUT:-30} + 5))
	stop_pid "$EXEC_PID" TERM 15
	rm -f "$SOCK"
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

# The local executor: Omni's Inngest server on this machine, over the real
# protocol in cloud mode (signed calls, checked syncs).  Fresh keys for each
# run unless given; the runs persist in $OMNI_DATA_DIR/executor.sqlite.
if [ "$USE_EXECUTOR" = 1 ]; then
	hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
	export INNGEST_SIGNING_KEY=${INNGEST_SIGNING_KEY:-signkey-local-$(hex 32)}
	export INNGEST_EVENT_KEY=${INNGEST_EVENT_KEY:-$(hex 16)}
	export INNGEST_API_ORIGIN=http://127.0.0.1:$EXEC_PORT
	export INNGEST_EVENT_API_ORIGIN=http://127.0.0.1:$EXEC_PORT
	export INNGEST_SERVE_ORIGIN=${INNGEST_SERVE_ORIGIN:-http://127.0.0.1:$PORT}
	unset INNGEST_DEV INNGEST_BASE_URL
	(umask 077 && printf '%s\n' "$INNGEST_EVENT_KEY" >"$RUN_DIR/event-key")
	OMNI_EXECUTOR_PORT=$EXEC_PORT \
		OMNI_EXECUTOR_APP_URL=$INNGEST_SERVE_ORIGIN${INNGEST_SERVE_PATH:-/api/inngest} \
		setsid "$EXEC_BIN" 2>>"$RUN_DIR/logs/executor.log" &
	EXEC_PID=$!
	for _ in $(seq 100); do
		port_busy "$EXEC_PORT" && break
		if ! kill -0 "$EXEC_PID" 2>/dev/null; then
			tail -n 5 "$RUN_DIR/logs/executor.log" >&2
			die "the executor did not start (see above)"
		fi
		sleep 0.1
	done
fi

# The pool.  setsid: its own session, so a Ctrl-C reaches only this script,
# which then stops everything in order (front first, then a pool drain).
pool_args=(--listen "unix:$SOCK" --workers "$WORKERS" --threads "$THREADS")
[ -z "${OMNI_ENV_FILE:-}" ] || pool_args+=(--env-file "$OMNI_ENV_FILE")
setsid "$BIN" "${pool_args[@]}" &
POOL_PID=$!

for _ in $(seq 100); do
	[ -S "$SOCK" ] && break
	kill -0 "$POOL_PID" 2>/dev/null || { wait "$POOL_PID" || true; die "the pool did not start (see above)"; }
	sleep 0.1
done
[ -S "$SOCK" ] || die "the pool did not create $SOCK in 10s"

# The front server, rendered from the production file.
if [ "$FRONT" = nginx ]; then
	CONF=$RUN_DIR/nginx.conf
else
	CONF=$RUN_DIR/Caddyfile
fi
# Keepalive sized to the pool (nginx/omni.conf: 2 nginx workers x
# keepalive must stay below the pool's threads): a quarter of the threads
# per nginx worker, at most the template's 8, unless set explicitly.
POOL_THREADS=$((WORKERS * THREADS))
KEEPALIVE=${OMNI_FCGI_KEEPALIVE:-$((POOL_THREADS / 4 > 8 ? 8 : POOL_THREADS / 4))}
[ "$KEEPALIVE" -ge 1 ] || KEEPALIVE=1
python3 "$ROOT/scripts/render-front.py" "$FRONT" --run-dir "$RUN_DIR" \
	--port "$PORT" --socket "$SOCK" --pool-threads "$POOL_THREADS" \
	--set "OMNI_FCGI_KEEPALIVE=$KEEPALIVE" \
	${OMNI_MAX_BODY:+--max-body "$OMNI_MAX_BODY"} --out "$CONF"

if [ "$FRONT" = nginx ]; then
	setsid nginx -p "$RUN_DIR" -c "$CONF" -e stderr -g 'daemon off;' &
else
	mkdir -p "$RUN_DIR/caddy-home"
	HOME=$RUN_DIR/caddy-home XDG_CONFIG_HOME=$RUN_DIR/caddy-home \
		XDG_DATA_HOME=$RUN_DIR/caddy-home \
		setsid caddy run --config "$CONF" --adapter caddyfile &
fi
FRONT_PID=$!

for _ in $(seq 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
		break
	fi
	kill -0 "$FRONT_PID" 2>/dev/null || die "$FRONT did not start (see above)"
	sleep 0.1
done

cat >&2 <<EOF
run: Omni ($OMNI_ENV, $WORKERS workers x $THREADS threads) behind $FRONT
run:   http://127.0.0.1:$PORT/      (Ctrl-C stops)
run:   pool pid $POOL_PID, $FRONT pid $FRONT_PID; logs in $RUN_DIR/logs
EOF
if [ "$USE_EXECUTOR" = 1 ]; then
	cat >&2 <<EOF
run: local executor pid $EXEC_PID: http://127.0.0.1:$EXEC_PORT/runs
run:   events: curl -d '{"name":"...","data":{}}' \\
run:     http://127.0.0.1:$EXEC_PORT/e/\$(cat $RUN_DIR/event-key)
EOF
fi

# Until either stops by itself (or a signal runs the traps).
set +e
wait -n "$POOL_PID" "$FRONT_PID" ${EXEC_PID:+"$EXEC_PID"}
rc=$?
set -e
if ! kill -0 "$POOL_PID" 2>/dev/null; then
	echo "run: the pool exited ($rc)" >&2
elif [ -n "$EXEC_PID" ] && ! kill -0 "$EXEC_PID" 2>/dev/null; then
	echo "run: the executor exited ($rc; see $RUN_DIR/logs/executor.log)" >&2
else
	echo "run: $FRONT exited ($rc)" >&2
fi
exit 1
