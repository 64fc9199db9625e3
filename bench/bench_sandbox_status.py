#!/usr/bin/env python3
"""bench_sandbox_status.py -- GET /api/sandbox/status against the fake Daytona.

What Omni adds over the Daytona call it makes, and whether it reuses its
connections to Daytona.  The pool (2 workers x 16 threads, LOG_LEVEL=info)
behind nginx (tests/integration/harness.py's Stack), SANDBOX_PROVIDER=daytona
with DAYTONA_API_URL on a small counting TCP proxy (threads in this process)
in front of tests/fakes/fake_daytona.py: the proxy counts the connections
Omni opens.  A status request is one Daytona call, GET /api/sandbox/{id}
(checked in the fake's log).

  1. latency, one request at a time over one keep-alive connection, N each
     (--n, default 200): the fake's own GET /api/sandbox/{id} directly and
     through a second listener of the same proxy (the hop Omni's calls
     take), GET / through nginx (nginx and Omni alone), and GET
     /api/sandbox/status?id= through nginx -> Omni -> proxy -> fake;
     median and p90.  "Omni adds" = status median - the fake's median
     through the proxy.
  2. throughput: wrk -t2 -c16 -d5s on the fake through the proxy, then on
     status through nginx, alternated --rounds times (default 3).
  3. connections: how many the proxy accepted from Omni during 1 and 2,
     against the Daytona calls made (with 2 workers x 16 threads and one
     libcurl handle per thread, at most one per thread that served).

Prints a markdown section.  A ratio, not a timed test.

    python3 bench/bench_sandbox_status.py [--n 200] [--rounds 3]

Only 127.0.0.1; every process is stopped by pid; everything stops by itself
(wrk -d, the fake's --max-lifetime; the proxy dies with this process).
"""

import argparse
import http.client
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import harness  # noqa: E402

WORKERS, THREADS = 2, 16
WRK = ["-t2", "-c16", "-d5s"]
WRK_OPTS = ["--timeout", "10s"]


class CountingProxy:
    """A TCP proxy on 127.0.0.1 to 127.0.0.1:target: counts the
    connections it accepts; two threads pump the bytes of each."""

    def __init__(self, target):
        self.target = target
        self.lock = threading.Lock()
        self.accepted = 0
        self.open = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def count(self):
        with self.lock:
            return self.accepted

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.open += 1
            # Connected upstream in its own thread: one slow connect (the
            # fake's listen backlog is 5) must not hold up the next accept.
            threading.Thread(target=self._serve, args=(client,),
                             daemon=True).start()

    def _serve(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target),
                                                10)
        except OSError:
            client.close()
            with self.lock:
                self.open -= 1
            return
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = [client, upstream]
        threading.Thread(target=self._pump, args=(upstream, client, pair),
                         daemon=True).start()
        self._pump(client, upstream, pair)

    def _pump(self, src, dst, pair):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self.lock:
            pair.append(None)
            last = pair.count(None) == 2
            if last:
                self.open -= 1
        if last:
            for s in pair[:2]:
                s.close()

    def close(self):
        self.closed = True
        self.sock.close()


def timed(port, path, n, headers=None):
    """n sequential GETs over one keep-alive connection: ms each."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            body = r.read()
            out.append((time.perf_counter() - t0) * 1000.0)
            if r.status != 200:
                raise SystemExit("bench: GET %s answered %d: %s"
                                 % (path, r.status, body[:300]))
            if r.getheader("Connection", "").lower() == "close":
                raise SystemExit("bench: GET %s closed the connection" % path)
    finally:
        conn.close()
    return out


def socket_errors(out):
    for line in out.splitlines():
        if line.strip().startswith("Socket errors:"):
            return sum(int(x.split()[-1]) for x in
                       line.split(":", 1)[1].split(","))
    return 0


def wrk_max(out):
    """wrk's largest latency, as it prints it."""
    for line in out.splitlines():
        p = line.split()
        if p[:1] == ["Latency"] and len(p) >= 4:
            return p[3]
    return "?"


def fake_calls(fake, sid):
    """Daytona calls logged by the fake, by route."""
    out = {}
    for e in fake.ctl("GET", "/log"):
        key = "%s %s" % (e["method"], e["path"].replace(sid, "{id}"))
        out[key] = out.get(key, 0) + 1
    return out


def status_count(stack):
    return bl.value(bl.metrics(stack), "omni_http_requests_total",
                    route="/api/sandbox/status", status_class="2xx")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    started = time.monotonic()
    import tempfile
    import shutil
    tmp = tempfile.mkdtemp(prefix="omni-bench-status-")
    fake = stack = proxy = direct = None
    try:
        fake = bl.Fake(tmp, 300)
        proxy = CountingProxy(fake.port)     # Omni's way to the fake
        direct = CountingProxy(fake.port)    # the baseline's, same hop
        env = bl.daytona_env("http://127.0.0.1:%d/api" % proxy.port)
        stack = harness.Stack("nginx", workers=WORKERS, threads=THREADS,
                              env=env).start()
        stack.wait_workers(WORKERS)
        return bench(a, stack, fake, proxy, direct, started)
    finally:
        if stack is not None:
            stack.stop()
        if fake is not None:
            fake.stop()
        for p in (proxy, direct):
            if p is not None:
                p.close()
        shutil.rmtree(tmp, ignore_errors=True)


def bench(a, stack, fake, proxy, direct, started):
    r = stack.post_json("/api/sandbox/create", {"userId": "bench-status"})
    if r.status != 200:
        raise SystemExit("bench: create answered %d: %s" % (r.status, r.text))
    sid = r.json()["sandboxId"]
    harness.wait_until(lambda: stack.get(
        "/api/sandbox/status?id=" + sid).json().get("status") == "ready",
        15, what="sandbox ready")
    auth = {"Authorization": "Bearer " + bl.DAYTONA_KEY}
    fake_path = "/api/sandbox/" + sid
    status_path = "/api/sandbox/status?id=" + sid
    # Warm both paths (connections opened, caches filled), not counted.
    timed(fake.port, fake_path, 20, auth)
    timed(direct.port, fake_path, 20, auth)
    timed(stack.port, "/", 20)
    timed(stack.port, status_path, 20)

    conns0 = proxy.count()
    status0 = status_count(stack)
    fake.ctl("POST", "/log/reset")
    seq = {}
    seq["fake, direct"] = timed(fake.port, fake_path, a.n, auth)
    seq["fake, through the proxy"] = timed(direct.port, fake_path, a.n, auth)
    seq["GET / via nginx+Omni"] = timed(stack.port, "/", a.n)
    fake.ctl("POST", "/log/reset")
    conns_seq0 = proxy.count()
    seq["status via nginx+Omni+proxy"] = timed(stack.port, status_path, a.n)
    conns_seq = proxy.count() - conns_seq0
    calls = fake_calls(fake, sid)
    per_status = calls.get("GET /api/sandbox/{id}", 0)

    # Throughput, alternated.
    rounds = []
    for _ in range(a.rounds):
        out_f, rc_f = bl.wrk(WRK + WRK_OPTS + ["-H", "Authorization: Bearer " +
                                    bl.DAYTONA_KEY,
                                    "http://127.0.0.1:%d%s"
                                    % (direct.port, fake_path)],
                             stack.run_dir, 60)
        out_s, rc_s = bl.wrk(WRK + WRK_OPTS + [stack.url(status_path)],
                             stack.run_dir, 60)
        for out, rc in ((out_f, rc_f), (out_s, rc_s)):
            if rc != 0 or "Non-2xx" in out:
                raise SystemExit("bench: wrk errors:\n" + out)
        rounds.append((bl.wrk_rps(out_f), bl.wrk_rps(out_s),
                       socket_errors(out_f), socket_errors(out_s),
                       wrk_max(out_f), wrk_max(out_s)))
    conns_total = proxy.count() - conns0
    statuses = int(status_count(stack) - status0)
    open_now = proxy.open

    f_med = bl.median(seq["fake, through the proxy"])
    s_med = bl.median(seq["status via nginx+Omni+proxy"])
    root_med = bl.median(seq["GET / via nginx+Omni"])
    fake_rps = bl.median([r[0] for r in rounds])
    status_rps = bl.median([r[1] for r in rounds])

    w = print
    w("## Sandbox status against the fake Daytona")
    w("")
    w("`python3 bench/bench_sandbox_status.py` on %d cores: the pool (%d "
      "workers x %d threads, LOG_LEVEL=info) behind nginx, "
      "SANDBOX_PROVIDER=daytona; Omni's DAYTONA_API_URL is a counting TCP "
      "proxy (Python threads, in the benchmark) in front of "
      "tests/fakes/fake_daytona.py. One status request makes one Daytona "
      "call, `GET /api/sandbox/{id}` (the fake logged %d for %d status "
      "requests; other calls: %s)."
      % (os.cpu_count(), WORKERS, THREADS, per_status, a.n,
         ", ".join("%s %d" % kv for kv in sorted(calls.items())
                   if kv[0] != "GET /api/sandbox/{id}") or "none"))
    w("")
    w("Latency, one request at a time over one keep-alive connection, "
      "n = %d each:" % a.n)
    w("")
    w("| request | median ms | p90 ms |")
    w("|---|---|---|")
    for name, ms in seq.items():
        w("| %s | %.2f | %.2f |" % (name, bl.median(ms), bl.pct(ms, 90)))
    w("")
    w("**Omni adds %.2f ms (median)** over the fake's own answer through "
      "the same proxy (%.2f ms -> %.2f ms, x%.2f); nginx and Omni alone "
      "(GET /) take %.2f ms."
      % (s_med - f_med, f_med, s_med, s_med / f_med if f_med else 0,
         root_med))
    w("")
    w("Throughput, `wrk %s`, alternated %d times (req/s):"
      % (" ".join(WRK), a.rounds))
    w("")
    w("| round | fake through the proxy | status via nginx+Omni+proxy | "
      "ratio | max latency (fake / status) | socket errors |")
    w("|---|---|---|---|---|---|")
    for i, (f, s, ef, es, mf, ms) in enumerate(rounds, 1):
        w("| %d | %.0f | %.0f | %.2f | %s / %s | %d / %d |"
          % (i, f, s, s / f if f else 0, mf, ms, ef, es))
    w("| median | %.0f | %.0f | %.2f | | |"
      % (fake_rps, status_rps, status_rps / fake_rps if fake_rps else 0))
    w("")
    w("Connections: **%d status requests (as many Daytona calls) over %d "
      "connections** accepted from Omni (%d of them during the %d "
      "sequential requests; %d since the pool started, the create and "
      "the warm-up included; %d still open at the end). The pool has %d "
      "threads, each with one libcurl handle, so about one connection a "
      "thread is expected (a connection the far side closes is opened "
      "again); a connection per request would make it %d."
      % (statuses, conns_total, conns_seq, a.n, proxy.count(),
         open_now, WORKERS * THREADS, statuses))
    w("")
    # Reuse, not an exact count: one thread's connection dropped and
    # reopened is still reuse; a connection per request is not.
    per_conn = statuses / conns_total if conns_total else float(statuses)
    reuse_ok = conns_total <= 2 * WORKERS * THREADS and per_conn >= 100
    w("Verdict: connection reuse %s, %.0f status requests per connection "
      "(%.0f s in all)."
      % ("**works**" if reuse_ok else "**FAILS**", per_conn,
         time.monotonic() - started))
    return 0 if reuse_ok and per_status == a.n else 1


if __name__ == "__main__":
    sys.exit(main())
