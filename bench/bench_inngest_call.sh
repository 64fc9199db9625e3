#!/usr/bin/env bash
# bench/bench_inngest_call.sh -- signed one-step Inngest call requests
# through nginx -> Omni, beside GET / through the same nginx and pool, in
# the same run; prints both requests/s and the ratio.  A ratio, not a
# timed test: the numbers depend on the machine.
#
# Each call is what Inngest sends first for a run of test-three-steps:
# POST /api/inngest?fnId=omni-test-three-steps&stepId=step with no
# memoized steps, signed with INNGEST_SIGNING_KEY.  Omni verifies the
# HMAC, runs step "first" and answers 206 [StepRun].  The signature is
# made once, before wrk starts, and stays inside the 5-minute window.
#
#   bench/bench_inngest_call.sh        (make builds the binary first)
#   WRK_ARGS="-t2 -c16 -d10s"          wrk arguments (default as shown)
#   OMNI_BIN, OMNI_WORKERS, OMNI_THREADS, LOG_LEVEL   as for the pool
#
# Only 127.0.0.1 is used; everything started here is stopped by PID.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

WRK_ARGS=${WRK_ARGS:--t2 -c16 -d10s}
RUN_PREFIX=omni-bench-inngest
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"
KEY="signkey-bench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# Cloud mode (signatures verified), the SDK test functions registered
# (OMNI_DEBUG_ROUTES=1), info logging: one request line and one
# inngest_call line per call, to a file.  Nothing here talks to Inngest:
# a call request needs no outgoing HTTP.
start_pool OMNI_ENV=development LOG_LEVEL="${LOG_LEVEL:-info}" \
	OMNI_DEBUG_ROUTES=1 INNGEST_DEV=0 INNGEST_SIGNING_KEY="$KEY" \
	INNGEST_APP_ID=omni INNGEST_BASE_URL=http://127.0.0.1:9
start_nginx

# The call body and its signature (spec 4.1.1: HMAC-SHA256 keyed with the
# key minus its prefix, over the body then the timestamp), as files for
# curl and as a wrk script.
python3 - "$KEY" "$RUN_DIR" <<'EOF'
import hashlib, hmac, json, os, re, sys, time
key, run_dir = sys.argv[1], sys.argv[2]
event = {"name": "omni/test.three-steps", "data": {"n": 1}, "id": "bench",
         "ts": 1700000000000}
body = json.dumps({
    "event": event, "events": [event], "steps": {},
    "ctx": {"run_id": "01BENCH", "attempt": 0,
            "disable_immediate_execution": False, "use_api": False,
            "stack": {"stack": [], "current": 0}}}, separators=(",", ":"))
ts = str(int(time.time()))
mac = hmac.new(re.sub(r"^signkey-\w+-", "", key).encode(),
               body.encode() + ts.encode(), hashlib.sha256).hexdigest()
sig = "t=%s&s=%s" % (ts, mac)
with open(os.path.join(run_dir, "call.json"), "w") as f:
    f.write(body)
with open(os.path.join(run_dir, "call.sig"), "w") as f:
    f.write(sig)
with open(os.path.join(run_dir, "call.lua"), "w") as f:
    f.write('wrk.method = "POST"\n')
    f.write("wrk.body = %s\n" % json.dumps(body))
    f.write('wrk.headers["Content-Type"] = "application/json"\n')
    f.write('wrk.headers["X-Inngest-Signature"] = "%s"\n' % sig)
EOF
CALL_URL="http://127.0.0.1:$PORT/api/inngest?fnId=omni-test-three-steps&stepId=step"
STATUS=$(curl -sS -o "$RUN_DIR/probe.json" -w '%{http_code}' \
	-H 'Content-Type: application/json' \
	-H "X-Inngest-Signature: $(cat "$RUN_DIR/call.sig")" \
	--data-binary "@$RUN_DIR/call.json" "$CALL_URL")
[ "$STATUS" = 206 ] || die "the call answered $STATUS, not 206: $(cat "$RUN_DIR/probe.json")"
grep -q '"op":"StepRun"' "$RUN_DIR/probe.json" ||
	die "no StepRun in $(cat "$RUN_DIR/probe.json")"

echo "bench: wrk $WRK_ARGS, pool $WORKERS workers x $THREADS threads, $(nproc) cores" >&2
echo "bench: GET / through nginx -> Omni" >&2
ROOT_RPS=$(run_wrk "http://127.0.0.1:$PORT/")
echo "bench: signed one-step call through nginx -> Omni (206)" >&2
CALL_RPS=$(run_wrk -s "$RUN_DIR/call.lua" "$CALL_URL")
report "signed one-step call via nginx+Omni" "$CALL_RPS" \
	"GET / via nginx+Omni" "$ROOT_RPS"
