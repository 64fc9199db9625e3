#!/usr/bin/env python3
"""benchlib.py -- what bench/soak.py and bench/bench_sandbox_status.py share.

Python 3 standard library only; processes are started and stopped by pid
through tests/integration/harness.py; everything is on 127.0.0.1.

  Fake(log_dir, lifetime)      tests/fakes/fake_daytona.py on a free port
  EventSink(log_dir, lifetime) a tiny Inngest event API in its own process
                               (this file run as a script: POST /e/<key>
                               answers {"ids": [...], "status": 200})
  daytona_env(api_url)         the pool's environment for the fake
  cloud_env(serve_origin, event_origin)
                               cloud-mode Inngest with a fresh signing key
  signed_call(key)             (path, body, headers) of a signed one-step
                               call of omni-test-three-steps (5 min valid)
  metrics(stack) -> {(name, labels): value}; by_route(delta)
  proc_stat(pid) -> (rss_kib, fds); pool_pids(stack), nginx_pids(stack)
  wrk(args, log_dir) -> (stdout, rc)
  pct(values, p), median(values)
"""

import hashlib
import hmac
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402

FAKE = os.path.join(harness.REPO, "tests", "fakes", "fake_daytona.py")
DAYTONA_KEY = "bench-daytona-key"
EVENT_KEY = "bench-event-key"


def _port_from_log(proc, what):
    def port():
        for line in proc.log().splitlines():
            if line.startswith("PORT="):
                return int(line[5:])
        if not proc.alive():
            raise harness.StopWaiting("%s exited: %s" % (what, proc.log()))
        return None
    return harness.wait_until(port, 15, what=what + " port")


class Fake:
    """The fake Daytona (its own process), stopped by pid."""

    def __init__(self, log_dir, lifetime, extra=()):
        self.proc = harness.spawn(
            [sys.executable, FAKE, "--port", "0", "--key", DAYTONA_KEY,
             "--create-delay", "0.05", "--start-delay", "0.05",
             "--max-lifetime", str(int(lifetime))] + list(extra),
            "fake-daytona", log_dir)
        self.port = _port_from_log(self.proc, "fake daytona")
        self.api_url = "http://127.0.0.1:%d/api" % self.port

    def ctl(self, method, path, body=None):
        r = harness.request(self.port, method, "/__control" + path,
                            body=body if body is not None else
                            ({} if method == "POST" else None))
        if r.status != 200:
            raise RuntimeError("fake control %s %s: %r" % (method, path, r))
        return r.json() if r.body else None

    def stop(self):
        self.proc.stop()


class EventSink:
    """bench/benchlib.py run as a script: the event API, its own process
    (so that its memory and descriptors are measured on their own)."""

    def __init__(self, log_dir, lifetime):
        self.proc = harness.spawn(
            [sys.executable, os.path.abspath(__file__), "sink",
             "--lifetime", str(int(lifetime))], "event-sink", log_dir)
        self.port = _port_from_log(self.proc, "event sink")
        self.origin = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.stop()


def daytona_env(api_url):
    return {
        "SANDBOX_PROVIDER": "daytona",
        "DAYTONA_API_URL": api_url,
        "DAYTONA_API_KEY": DAYTONA_KEY,
        "DAYTONA_SNAPSHOT": "omni-bench",
    }


def new_signing_key():
    return "signkey-bench-" + os.urandom(32).hex()


def cloud_env(key, serve_origin, event_origin):
    """Cloud mode: call requests verified with 'key'; events to the sink;
    the API (sync, which nothing here starts) on the sink too."""
    return {
        "INNGEST_DEV": "0",
        "INNGEST_SIGNING_KEY": key,
        "INNGEST_EVENT_KEY": EVENT_KEY,
        "INNGEST_APP_ID": "omni",
        "INNGEST_SERVE_ORIGIN": serve_origin,
        "INNGEST_BASE_URL": event_origin,
        "INNGEST_API_ORIGIN": event_origin,
        "INNGEST_EVENT_API_ORIGIN": event_origin,
    }


def signed_call(key):
    """What Inngest sends first for a run of test-three-steps, signed as
    bench/bench_inngest_call.sh does (HMAC-SHA256 keyed with the key minus
    its prefix, over the body then the timestamp).  Valid 5 minutes."""
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
    return ("/api/inngest?fnId=omni-test-three-steps&stepId=step", body,
            {"Content-Type": "application/json",
             "X-Inngest-Signature": "t=%s&s=%s" % (ts, mac)})


# ------------------------------------------------------------- metrics ---

_SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metrics(stack):
    """GET /metrics through the front: {(name, ((label, value), ...)): v}."""
    r = stack.get("/metrics", timeout=10)
    if r.status != 200:
        raise RuntimeError("/metrics answered %d: %s" % (r.status, r.text))
    out = {}
    for line in r.text.splitlines():
        m = _SERIES.match(line)
        if m:
            labels = tuple(sorted(_LABEL.findall(m.group(2) or "")))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def delta(after, before):
    return {k: v - before.get(k, 0.0) for k, v in after.items()
            if v - before.get(k, 0.0)}


def value(series, name, **labels):
    """Sum of the series 'name' whose labels include 'labels'."""
    want = set(labels.items())
    return sum(v for (n, ls), v in series.items()
               if n == name and want <= set(ls))


def hist_quantile(series, name, q, **labels):
    """Upper bound (seconds) of the bucket holding quantile q of histogram
    'name' (the le= buckets of a Prometheus histogram), or None."""
    buckets = {}
    for (n, ls), v in series.items():
        d = dict(ls)
        if n != name + "_bucket" or any(d.get(k) != w
                                        for k, w in labels.items()):
            continue
        le = float("inf") if d["le"] == "+Inf" else float(d["le"])
        buckets[le] = buckets.get(le, 0.0) + v
    if not buckets:
        return None
    total = buckets.get(float("inf"), max(buckets.values()))
    if total <= 0:
        return None
    for le in sorted(buckets):
        if buckets[le] >= q * total:
            return le
    return None


def by_route(series):
    """omni_http_requests_total: {(route, method): {status_class: n}}."""
    out = {}
    for (n, ls), v in series.items():
        if n != "omni_http_requests_total":
            continue
        d = dict(ls)
        key = (d.get("route"), d.get("method"))
        out.setdefault(key, {})[d.get("status_class")] = int(v)
    return out


# ----------------------------------------------------------- processes ---

def proc_stat(pid):
    """(VmRSS in KiB, open descriptors), or None once the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            rss = next((int(line.split()[1]) for line in f
                        if line.startswith("VmRSS:")), 0)
        return rss, len(os.listdir("/proc/%d/fd" % pid))
    except (OSError, StopIteration):
        return None


def _tcp_sockets():
    """{socket inode: (local port, remote port, state)} of IPv4 TCP."""
    out = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    p = line.split()
                    out[p[9]] = (int(p[1].rsplit(":", 1)[1], 16),
                                 int(p[2].rsplit(":", 1)[1], 16), p[3])
        except OSError:
            pass
    return out


def fd_kinds(pid, names):
    """What a process's descriptors are: {label: n}; 'names' maps a TCP
    port to a label ("to fake", ...).  TCP sockets whose remote port is
    not named count under their own local port's name ("from ..."), else
    "tcp other"; unix sockets by the name they are bound to ("unix
    NAME": an accepted one has its listener's; "unix listen NAME": the
    listener), else "unix unnamed" (a socketpair, or a client's end);
    then "pipe", "file", "other"."""
    tcp = _tcp_sockets()
    unix = {}
    try:
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                p = line.split()
                name = os.path.basename(p[7]) if len(p) > 7 else ""
                if name and int(p[3], 16) & 0x10000:   # __SO_ACCEPTCON
                    name = "listen " + name
                unix[p[6]] = name
    except OSError:
        pass
    out = {}
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return out
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if m and m.group(1) in tcp:
            lport, rport, state = tcp[m.group(1)]
            if state == "0A":
                label = "tcp listen"
            elif rport in names:
                label = "to " + names[rport]
            elif lport in names:
                label = "from clients of " + names[lport]
            else:
                label = "tcp other"
        elif m and unix.get(m.group(1)):
            label = "unix " + unix[m.group(1)]
        elif m:
            label = "unix unnamed"
        elif link.startswith("pipe:"):
            label = "pipe"
        elif link.startswith("/"):
            label = "file"
        else:
            label = "other"
        out[label] = out.get(label, 0) + 1
    return out


def tcp_counters():
    """This machine's TCP counters (/proc/net/snmp Tcp, /proc/net/netstat
    TcpExt): {"PassiveOpens": n, "ListenOverflows": n, ...}."""
    out = {}
    for name in ("/proc/net/snmp", "/proc/net/netstat"):
        try:
            with open(name) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for head, vals in zip(lines[::2], lines[1::2]):
            if head.startswith(("Tcp:", "TcpExt:")):
                for k, v in zip(head.split()[1:], vals.split()[1:]):
                    try:
                        out[k] = int(v)
                    except ValueError:
                        pass
    return out


def pool_pids(stack):
    """{'omni master': pid, 'omni worker 1': pid, ...} (workers by pid)."""
    out = {"omni master": stack.pool.pid}
    for i, pid in enumerate(sorted(stack.worker_pids()), 1):
        out["omni worker %d" % i] = pid
    return out


def nginx_pids(stack):
    out = {"nginx master": stack.front_proc.pid}
    for i, pid in enumerate(sorted(harness.children_of(stack.front_proc.pid)),
                            1):
        out["nginx worker %d" % i] = pid
    return out


def wrk(args, log_dir, timeout):
    """Run wrk (args without the binary); (stdout, returncode)."""
    done = subprocess.run(["wrk"] + list(args), capture_output=True,
                          text=True, timeout=timeout, cwd=log_dir)
    return done.stdout + done.stderr, done.returncode


def wrk_rps(out):
    m = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    return float(m.group(1)) if m else 0.0


def median(values):
    return statistics.median(values) if values else 0.0


def pct(values, p):
    """The p-th percentile (nearest rank) of 'values'."""
    if not values:
        return 0.0
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


# ---------------------------------------------------------- event sink ---

class _SinkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bench-event-sink/1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/e/"):
            try:
                doc = json.loads(body or b"null")
            except ValueError:
                doc = None
            if path[3:] != EVENT_KEY:
                return self._send(401, {"error": "wrong event key",
                                        "status": 401})
            if not isinstance(doc, (dict, list)):
                return self._send(400, {"error": "not an event",
                                        "status": 400})
            events = doc if isinstance(doc, list) else [doc]
            self.server.events += len(events)
            ids = [e.get("id") or "sink-%d" % (self.server.events + i)
                   for i, e in enumerate(events) if isinstance(e, dict)]
            return self._send(200, {"ids": ids, "status": 200})
        if path.startswith("/fn/register"):
            return self._send(200, {"ok": True, "modified": False})
        self._send(404, {"error": "no such route"})

    def do_GET(self):
        if self.path == "/__count":
            return self._send(200, {"events": self.server.events})
        self._send(404, {"error": "no such route"})

    def _send(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _sink_main(argv):
    import argparse
    import socket
    import threading
    ap = argparse.ArgumentParser()
    ap.add_argument("--lifetime", type=float, default=300)
    a = ap.parse_args(argv)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        # Omni opens a new connection for every event (a POST is never
        # resent on a reused one): the default backlog of 5 would drop
        # SYNs under load and add 1 s retransmits.
        request_queue_size = 128

        def server_bind(self):
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            super().server_bind()

    srv = Server(("127.0.0.1", 0), _SinkHandler)
    srv.events = 0
    timer = threading.Timer(a.lifetime, srv.shutdown)
    timer.daemon = True
    timer.start()
    print("PORT=%d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        timer.cancel()
        srv.server_close()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["sink"]:
        sys.exit(_sink_main(sys.argv[2:]))
    sys.exit("usage: benchlib.py sink [--lifetime S]")
