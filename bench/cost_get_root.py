#!/usr/bin/env python3
"""cost_get_root.py -- what one GET / costs the responder, in counts that
do not depend on the machine's load: instructions (valgrind's callgrind)
and system calls (strace -c) per request, for Omni and, in the same run,
for a bare libfcgi responder (bench/bare_responder.c: accept, write the
same answer, finish) -- the floor for anything built on libfcgi.

Each responder runs as one process started by spawn-fcgi on a unix
socket, behind nginx rendered from nginx/omni.conf (FastCGI keepalive
as in production, one connection so that the one-threaded bare responder
is never waited on); requests are sent one after another over one kept-alive
HTTP connection.  Instructions: callgrind's total for WARM + N requests
minus its total for WARM requests, divided by N (start-up cancels out).
System calls: strace -c attached to every thread during N requests.

  bench/cost_get_root.py [--n 2000] [--base-bin OTHER/omni-fcgi]

--base-bin adds another Omni binary (an older build) to the table.
Prints a markdown section on stdout, progress on stderr.  Only 127.0.0.1;
everything started is stopped by PID.  Needs valgrind, strace, nginx,
spawn-fcgi and cc (make deps installs all but strace: apt-get install
strace).
"""

import argparse
import glob
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import bench_sdk  # noqa: E402  (the call request and its signing)
import harness  # noqa: E402  (bench_sdk put it on the path)
WARM = 200


def log(msg):
    print("cost: " + msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


GET_ROOT = ("GET", "/", None, {}, 200)
KEY = "signkey-bench-" + "5f3c9a" * 8
MALLOC_ENV = harness.malloc_env()   # as make run and the image run Omni
CALL_ENV = {**bench_sdk.omni_env(KEY), **MALLOC_ENV}


def signed_call():
    """The request bench_sdk.py measures: the first call of a run of
    test-three-steps, signed now (valid for the signature window)."""
    body = bench_sdk.call_body().encode()
    sig = bench_sdk.sign(KEY, body.decode())
    return ("POST", bench_sdk.CALL_PATH, body,
            {"Content-Type": "application/json",
             "X-Inngest-Signature": sig}, 206)


def send(port, n, req=GET_ROOT):
    """n requests over one kept-alive connection; each must answer the
    expected status."""
    method, path, body, headers, want = req
    conn = None
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/")
            conn.getresponse().read()
            break
        except OSError:
            conn = None
            time.sleep(0.1)
    if conn is None:
        raise RuntimeError("nginx did not answer on port %d" % port)
    for _ in range(n):
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        r.read()
        if r.status != want:
            raise RuntimeError("%s %s answered %d" % (method, path,
                                                      r.status))
    conn.close()


class Responder:
    """spawn-fcgi -n running 'argv' on a unix socket, nginx in front."""

    def __init__(self, argv, env_extra=None):
        self.dir = tempfile.mkdtemp(prefix="omni-cost-")
        self.sock = os.path.join(self.dir, "omni.sock")
        os.makedirs(os.path.join(self.dir, "data"))
        env = {"PATH": "/usr/bin:/bin", "OMNI_ENV": "development",
               "LOG_LEVEL": "info",
               "OMNI_DATA_DIR": os.path.join(self.dir, "data")}
        env.update(env_extra or {})
        self.err = open(os.path.join(self.dir, "responder.log"), "wb")
        self.proc = subprocess.Popen(
            ["spawn-fcgi", "-n", "-s", self.sock, "--"] + argv, env=env,
            stdout=subprocess.DEVNULL, stderr=self.err)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the responder did not start: %s"
                                   % " ".join(argv))
            time.sleep(0.05)
        self.port = free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        subprocess.run([sys.executable,
                        os.path.join(ROOT, "scripts", "render-front.py"),
                        "nginx", "--run-dir", self.dir, "--port",
                        str(self.port), "--socket", self.sock,
                        "--pool-threads", "16", "--set",
                        "OMNI_FCGI_KEEPALIVE=1", "--set",
                        "OMNI_NGINX_WORKERS=1", "--out", conf],
                       check=True, stdout=subprocess.DEVNULL)
        self.nginx = subprocess.Popen(
            ["nginx", "-p", self.dir, "-c", conf, "-e",
             os.path.join(self.dir, "nginx-error.log"), "-g",
             "daemon off;"])

    def stop(self):
        for p in (self.nginx, self.proc):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.err.close()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def callgrind_total(argv, n, req=GET_ROOT, env=None):
    """Instructions callgrind counted in the responder over WARM + n."""
    out_dir = tempfile.mkdtemp(prefix="omni-cg-")
    # spawn-fcgi execs without a PATH search: full paths.
    r = Responder([shutil.which("valgrind"), "--tool=callgrind",
                   "--separate-threads=no",
                   "--callgrind-out-file=" + os.path.join(out_dir, "cg.out")]
                  + argv, env)
    try:
        send(r.port, WARM + n, req)
    finally:
        r.stop()
        r.cleanup()
    total = 0
    for f in glob.glob(os.path.join(out_dir, "cg.out*")):
        with open(f) as fh:
            for line in fh:
                if line.startswith("summary:"):
                    total += int(line.split()[1])
                    break
    shutil.rmtree(out_dir, ignore_errors=True)
    if total == 0:
        raise RuntimeError("callgrind wrote no totals for %s" % argv)
    return total


def instructions_per_request(argv, n, req=GET_ROOT, env=None):
    return (callgrind_total(argv, n, req, env) -
            callgrind_total(argv, 0, req, env)) / n


def syscalls_per_request(argv, n, req=GET_ROOT, env=None):
    """{syscall: calls per request} while n requests are served."""
    r = Responder(argv, env)
    try:
        send(r.port, WARM, req)
        tids = os.listdir("/proc/%d/task" % r.proc.pid)
        out = os.path.join(r.dir, "strace.txt")
        cmd = ["strace", "-c", "-f", "-o", out]
        for t in tids:
            cmd += ["-p", t]
        st = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # attached to every thread
        send(r.port, n, req)
        st.send_signal(signal.SIGINT)
        st.wait(30)
        counts = {}
        with open(out) as fh:
            for line in fh:
                parts = line.split()
                # % time, seconds, usecs/call, calls, [errors], syscall
                if len(parts) >= 5 and parts[0][0].isdigit() and \
                        parts[-1] != "total":
                    counts[parts[-1]] = int(parts[3]) / n
        return counts
    finally:
        r.stop()
        r.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--base-bin", help="another omni-fcgi to compare")
    args = ap.parse_args()
    for tool in ("valgrind", "strace", "nginx", "spawn-fcgi", "cc"):
        if shutil.which(tool) is None:
            sys.exit("cost: %s is not installed" % tool)
    bare = os.path.join(tempfile.mkdtemp(prefix="omni-bare-"), "bare")
    subprocess.run(["cc", "-std=c17", "-O2", "-Wall", "-Wextra", "-Werror",
                    os.path.join(ROOT, "bench", "bare_responder.c"),
                    "-lfcgi", "-o", bare], check=True)
    omni = os.path.join(ROOT, "build", "omni-fcgi")
    rows = [("bare libfcgi responder, GET /", [bare], GET_ROOT, None),
            ("Omni (this build), GET /", [omni, "--threads", "4"],
             GET_ROOT, MALLOC_ENV),
            ("Omni (this build), GET /, glibc's default malloc",
             [omni, "--threads", "4"], GET_ROOT, None)]
    if args.base_bin:
        rows.append(("Omni (%s), GET /" % args.base_bin,
                     [args.base_bin, "--threads", "4"], GET_ROOT,
                     MALLOC_ENV))
    rows.append(("Omni (this build), signed one-step call",
                 [omni, "--threads", "4"], signed_call(), CALL_ENV))
    results = []
    for label, argv, req, env in rows:
        log("%s: instructions" % label)
        ins = instructions_per_request(argv, args.n, req, env)
        log("%s: system calls" % label)
        sc = syscalls_per_request(argv, args.n, req, env)
        results.append((label, ins, sc))
    shutil.rmtree(os.path.dirname(bare), ignore_errors=True)
    floor = results[0][1]
    print("## Cost of one request in the responder\n")
    print("%d requests over one kept-alive connection through nginx; "
          "callgrind instructions (start-up subtracted) and strace "
          "system calls per request. Omni runs with deploy/malloc.env (%s) "
          "as make run and the image run it, except in the row that says "
          "otherwise. The signed call is bench_sdk.py's (cloud mode: its "
          "signature is checked).\n"
          % (args.n, MALLOC_ENV["GLIBC_TUNABLES"]))
    print("| responder, request | instructions / request | x bare | "
          "system calls / request |")
    print("|---|---|---|---|")
    for label, ins, sc in results:
        calls = ", ".join("%s %.2g" % (k, v) for k, v in
                          sorted(sc.items(), key=lambda kv: -kv[1])
                          if v >= 0.01)
        print("| %s | %.0f | %.2f | %.2f (%s) |" % (
            label, ins, ins / floor, sum(sc.values()), calls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
