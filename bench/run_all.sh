#!/bin/sh
# bench/run_all.sh -- make bench: every benchmark in one run, each
# printing a markdown section, gathered into bench/results.md (also
# printed).  A benchmark that breaks is reported in its section and the
# others still run; the exit status is then 1.  Loopback only; each
# script stops what it starts.
set -u
cd "$(dirname "$0")/.."
OUT=bench/results.md
TMP=$(mktemp)
status=0
started=$(date +%s)

section() {
	name=$1
	shift
	echo "bench: $name" >&2
	if ! "$@" >"$TMP.part"; then
		status=1
		printf '## %s\n\nFAILED (see the output above).\n\n' "$name" >>"$TMP"
	else
		cat "$TMP.part" >>"$TMP"
		echo >>"$TMP"
	fi
}

{
	echo "# Benchmark results"
	echo
	echo "\`make bench\` on $(uname -n), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), revision $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)."
	echo "Ratios are what to compare: every pair below was measured in this run."
	echo
} >"$TMP"
section "GET / against nginx" bash bench/bench_get_root.sh
section "Cost of GET /" python3 bench/cost_get_root.py
section "Omni against the official Inngest SDK" python3 bench/bench_sdk.py
section "Sandbox status against the fake Daytona" python3 bench/bench_sandbox_status.py
section "Metrics on and off" bash bench/bench_metrics.sh
section "Local executor" python3 bench/bench_executor.py
echo "(the whole run took $(( $(date +%s) - started )) s)" >>"$TMP"
mv "$TMP" "$OUT"
rm -f "$TMP.part"
cat "$OUT"
exit $status
