#!/usr/bin/env python3
"""Latency of the sandbox API on the local provider, through nginx.

Starts the pool (debug routes on, so a small command can be run) behind
nginx rendered from nginx/omni.conf, then times, one request at a time:
create for a new user, create for an existing user (reuse), status, and
a small exec (`true` under bubblewrap), each N times, beside GET / in the
same run.  Prints the median and 90th percentile of each, and the median
as a multiple of GET /'s: a ratio, not a timed test.

    python3 bench/bench_sandbox_local.py [--n 50]

Only 127.0.0.1; everything is stopped by PID (tests/integration/harness.py).
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "integration"))
import harness  # noqa: E402


def timed(fn, n):
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def check(r, want=200):
    if r.status != want:
        raise SystemExit("bench: %s %s" % (r.status, r.text[:200]))
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50)
    a = ap.parse_args()
    run = "%d" % os.getpid()
    with harness.Stack("nginx") as stack:
        sid = check(stack.post_json("/api/sandbox/create",
                                    {"userId": "bench-" + run})).json()
        sid = sid["sandboxId"]
        rows = [
            ("GET /", lambda i: check(stack.get("/"))),
            ("create (new user)", lambda i: check(stack.post_json(
                "/api/sandbox/create", {"userId": "bench-%s-%d" % (run, i)}))),
            ("create (reuse)", lambda i: check(stack.post_json(
                "/api/sandbox/create", {"userId": "bench-" + run}))),
            ("status", lambda i: check(stack.get(
                "/api/sandbox/status?id=" + sid))),
            ("exec `true`", lambda i: check(stack.post_json(
                "/debug/sandbox/exec", {"sandboxId": sid, "command": "true"}))),
        ]
        results = [(name, timed(fn, a.n)) for name, fn in rows]
    ref = statistics.median(results[0][1])
    print("%-20s %10s %10s %10s" % ("request", "median ms", "p90 ms",
                                      "x GET /"))
    for name, ms in results:
        ms.sort()
        print("%-20s %10.2f %10.2f %10.1f" % (
            name, statistics.median(ms), ms[int(len(ms) * 0.9) - 1],
            statistics.median(ms) / ref))


if __name__ == "__main__":
    main()
