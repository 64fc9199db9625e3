#!/usr/bin/env python3
"""Leak check: run the pool (one worker) under valgrind, send a request
mix straight over FastCGI, drain it with SIGTERM, and require valgrind to
report no definite or indirect leak and no error in any process.

Prints "N passed, M failed" like the other suites.
"""
import argparse
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fcgi_client import fcgi_request  # noqa: E402

SID = "omni-c4c3f581793f8d8c636c5d7eb6c07e0d"  # sbx_name_for_user("vg-user")

MIX = [
    ("GET", "/", b"", {}, 200),
    ("GET", "/ready", b"", {}, 200),
    ("GET", "/metrics", b"", {}, 200),
    ("GET", "/nope?a=1&b=%20", b"", {}, 404),
    ("POST", "/", b"", {}, 405),
    ("OPTIONS", "/", b"", {"Origin": "http://a.test"}, 204),
    ("GET", "/x?%zz", b"", {}, 400),
    ("POST", "/debug/echo", b'{"a":[1,2,{"b":"c"}]}',
     {"Content-Type": "application/json"}, 200),
    ("POST", "/debug/echo", b'{"a":', {"Content-Type": "application/json"},
     400),
    ("POST", "/debug/echo", b"{}", {"Content-Type": "text/plain"}, 415),
    ("POST", "/debug/echo", b"x" * 5000, {"Content-Type": "application/json"},
     413),
    ("GET", "/debug/sleep?ms=5", b"", {"X-Request-Id": "vg-1"}, 200),
    ("POST", "/api/sandbox/create", b'{"userId":"vg-user"}',
     {"Content-Type": "application/json"}, 200),
    ("POST", "/api/sandbox/create", b'{"userId":7}',
     {"Content-Type": "application/json"}, 400),
    ("GET", "/api/sandbox/status?id=omni-00000000000000000000000000000000",
     b"", {}, 404),
    ("GET", "/api/sandbox/status?id=..%2Fetc", b"", {}, 400),
    ("DELETE", "/api/sandbox?id=omni-00000000000000000000000000000000", b"",
     {}, 404),
    # The knowledge endpoints on vg-user's sandbox (made above): no
    # Inngest to send to, so process answers 503 and writes nothing.
    ("POST", "/api/knowledge/process",
     b'{"input":"- MRR $48k","sandboxId":"%s","userId":"vg-user",'
     b'"taskId":"t1","env":{"A":"b"}}' % SID.encode(),
     {"Content-Type": "application/json"}, 503),
    ("POST", "/api/knowledge/process", b'{"input":"","taskId":"../x"}',
     {"Content-Type": "application/json"}, 400),
    ("GET", "/api/task/results?taskId=t1&userId=vg-user", b"", {}, 200),
    ("GET", "/api/task/results?taskId=..&userId=vg-user", b"", {}, 400),
    ("GET", "/api/knowledge/query?userId=vg-user&query=mrr", b"", {}, 200),
    ("GET", "/api/knowledge/query?userId=vg-user", b"", {}, 200),
    ("GET", "/api/inngest", b"", {}, 200),
    ("POST", "/api/inngest?fnId=nope&stepId=step", b'{"event":{}}',
     {"Content-Type": "application/json"}, None),
]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rounds", type=int, default=10)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="omni-vg-")
    port = free_port()
    env = dict(os.environ, OMNI_ENV="development", OMNI_DEBUG_ROUTES="1",
               OMNI_MAX_BODY="4096", LOG_LEVEL="error",
               OMNI_DATA_DIR=os.path.join(tmp, "data"),
               OMNI_SHUTDOWN_TIMEOUT="20")
    # Workers are forks and stay traced; bubblewrap (exec'd by the local
    # sandbox provider) cannot set up namespaces under valgrind.
    cmd = ["valgrind", "--trace-children=yes",
           "--trace-children-skip=*bwrap*",
           "--leak-check=full", "--show-leak-kinds=definite,indirect",
           "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=3",
           f"--log-file={tmp}/vg.%p.log", a.bin, "--listen",
           f"127.0.0.1:{port}", "--workers", "1", "--threads", "4"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(tmp, "stderr.log"), "w"))
    passed = failed = 0
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                fcgi_request(("127.0.0.1", port), "GET", "/", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("pool did not start under valgrind")
                time.sleep(0.3)
        for _ in range(a.rounds):
            for method, uri, body, hdrs, want in MIX:
                status, _, rbody = fcgi_request(("127.0.0.1", port), method,
                                                uri, body, hdrs, timeout=30)
                if want is not None and status != want:
                    print(f"FAIL {method} {uri}: {status} != {want} {rbody!r}")
                    failed += 1
                else:
                    passed += 1
                if status >= 400 and status != 405 and rbody:
                    json.loads(rbody)  # the error model is JSON
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    reports = ""
    for f in sorted(glob.glob(os.path.join(tmp, "vg.*.log"))):
        reports += open(f).read()
    leaks = re.findall(r"(definitely|indirectly) lost: ([\d,]+) bytes", reports)
    errors = re.findall(r"ERROR SUMMARY: (\d+) errors", reports)
    bad = [l for l in leaks if l[1] != "0"] or [e for e in errors if e != "0"]
    if proc.returncode != 0 or bad:
        print(f"FAIL valgrind: exit {proc.returncode}, leaks {leaks}, "
              f"errors {errors}\n{reports[-8000:]}")
        failed += 1
    else:
        print(f"ok valgrind: {len(glob.glob(os.path.join(tmp, 'vg.*.log')))} "
              f"processes, no leak, no error")
        passed += 1
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
