#!/usr/bin/env python3
"""Omni's C Inngest SDK against the official `inngest` npm SDK, in one run.

The same function (app "omni", function "test-three-steps": three run
steps "first", "second", "third", each returning its own name) served by:

  omni      build/omni-fcgi (workers = cores, 16 threads, cloud mode,
            OMNI_DEBUG_ROUTES=1 registers the function) behind nginx
            rendered from nginx/omni.conf (tests/integration/harness.py)
  node3     bench/node/server.mjs on inngest 3.x (bench/node/v3), Node's own
            http server through the SDK's `inngest/node` serve adapter
  node4     the same on inngest 4.x (bench/node/v4)

each on its own loopback port, all with one generated signing key, in cloud
mode (signatures verified).  Before measuring, every server must refuse an
unsigned call, a call with a wrong signature and a signed call whose body
was changed, and answer the signed call with 206 and one StepRun op for
step "first" (the same op id everywhere).

One call body, serialized in its RFC 8785 (JCS) form, and one
X-Inngest-Signature `t=<ts>&s=<hex>` (HMAC-SHA256 keyed with the key text
after `signkey-<env>-`, over the body then the timestamp) are sent to every
server: inngest-js re-serializes the parsed body with JCS before computing
the HMAC, Omni tries the raw bytes first, so a body that is already its JCS
form verifies on both.  The signature is made afresh for each round, well
inside the 5-minute window.

Rows, measured with wrk (-t2 -c16 -d6s by default), alternated --rounds
times:
  Omni GET /                       nginx -> Omni's health route
  Omni GET /api/inngest            unsigned: the public introspection
  Omni GET /api/inngest, signed    the full introspection
  Omni signed call                 POST ?fnId=omni-test-three-steps&stepId=step
  Node 3.x / 4.x GET /api/inngest, signed
                                   (the Node SDKs answer 401 to an unsigned
                                   GET in cloud mode)
  Node 3.x / 4.x signed call       direct to Node's port
Any non-2xx answer or socket error in a wrk run stops the run.  RSS is the
sum of VmRSS over each server's processes (and descendants): at rest (after
start and the check requests, before any load) and after the last round,
with the peak (VmHWM); PSS (smaps_rollup) beside it, which counts a page
shared by several processes once in all (RSS counts it in each).

Prints a markdown section on stdout, progress on stderr.  Exit 0 whether
or not the goals are met (it measures, not asserts); non-zero only for a
broken run.  Only 127.0.0.1; everything started here is stopped by PID.

    python3 bench/bench_sdk.py [--rounds 3] [--duration 6] [--connections 16]
                               [--threads 2] [--warmup 1]
"""
import argparse
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402

NODE_DIR = os.path.join(HERE, "node")
SERVER_JS = os.path.join(NODE_DIR, "server.mjs")
SDKS = (("node3", "v3", "inngest 3.x"), ("node4", "v4", "inngest 4.x"))
CALL_PATH = "/api/inngest?fnId=omni-test-three-steps&stepId=step"
# The first step's op id: SHA-1 hex of the step id "first", the same in
# every SDK (spec 4.4.4; docs/inngest.md "Step ids are hashed").
FIRST_ID = hashlib.sha1(b"first").hexdigest()
T0 = time.monotonic()


class BrokenRun(Exception):
    """Something the numbers cannot be trusted without."""


def log(msg):
    print("[%5.1fs] %s" % (time.monotonic() - T0, msg), file=sys.stderr,
          flush=True)


# ------------------------------------------------------------ signing ---

def jcs(value):
    """RFC 8785 form of a JSON value made of objects, arrays, strings,
    integers, booleans and null (what the call body holds; floats are not
    needed and refused, so the serialization below is exactly JCS)."""
    def check(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str):
                    raise TypeError("non-string key")
                check(x)
        elif isinstance(v, list):
            for x in v:
                check(x)
        elif isinstance(v, float):
            raise TypeError("floats need RFC 8785 number formatting")
        elif not (v is None or isinstance(v, (str, int, bool))):
            raise TypeError("not JSON: %r" % (v,))
    check(value)
    # Keys sorted by code point equal the UTF-16 order JCS asks for while
    # they are ASCII (they are); no spaces; UTF-8 kept as is.
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def call_body(data_n=1):
    """What Inngest sends first for a run of test-three-steps: no memoized
    steps, attempt 0, request version 1 (inngest-js logs a line for every
    call that names none; Omni ignores the field)."""
    event = {"name": "omni/test.three-steps", "data": {"n": data_n},
             "id": "bench", "ts": 1700000000000}
    return jcs({
        "event": event, "events": [event], "steps": {}, "version": 1,
        "ctx": {"run_id": "01BENCHSDK", "attempt": 0,
                "disable_immediate_execution": False, "use_api": False,
                "stack": {"stack": [], "current": 0}}})


def sign(key, body, ts=None):
    ts = str(int(time.time()) if ts is None else ts)
    secret = re.sub(r"^signkey-\w+-", "", key).encode()
    mac = hmac.new(secret, body.encode() + ts.encode(),
                   hashlib.sha256).hexdigest()
    return "t=%s&s=%s" % (ts, mac)


def lua_script(path, method, body=None, signature=None):
    lines = ['wrk.method = "%s"' % method]
    if body is not None:
        lines.append("wrk.body = %s" % json.dumps(body))
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    if signature is not None:
        lines.append('wrk.headers["X-Inngest-Signature"] = "%s"' % signature)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- RSS ---

def tree(pid):
    """pid and its live descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(harness.children_of(p))
    return out


def cpu_s(pid):
    """User + system CPU seconds used so far by pid's tree."""
    ticks = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/stat" % p, "rb") as f:
                stat = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    """(VmRSS, VmHWM, PSS) summed over pid's tree, in KiB.  RSS counts a
    page shared by several processes (the libraries, the memory a worker
    shares with the master it was forked from) once in each; PSS divides
    it among them, so the sum over a tree is the memory the tree uses."""
    rss = hwm = pss = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm += int(line.split()[1])
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, hwm, pss


# -------------------------------------------------------------- servers ---

def npm_install(sdk_dirs, log_dir):
    """Install each SDK whose node_modules is missing, all at once; for
    each folder its inngest version, or None and the reason it cannot be
    had."""
    def pkg(d):
        return os.path.join(d, "node_modules", "inngest", "package.json")
    running = {}
    for d in sdk_dirs:
        if not os.path.exists(pkg(d)):
            log("npm install in %s" % os.path.relpath(d, harness.REPO))
            out = open(os.path.join(log_dir, "npm-%s.log"
                                    % os.path.basename(d)), "wb")
            running[d] = (subprocess.Popen(
                ["npm", "install", "--no-audit", "--no-fund"], cwd=d,
                stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT), out)
    deadline = time.monotonic() + 300
    failed = {}
    for d, (proc, out) in running.items():
        try:
            rc = proc.wait(max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = "timed out"
        out.close()
        if rc != 0 or not os.path.exists(pkg(d)):
            with open(out.name, "rb") as f:
                tail = f.read().decode("utf-8", "replace").strip()
            failed[d] = "npm install failed (%s): %s" % (
                rc if isinstance(rc, str) else "exit %d" % rc,
                tail.splitlines()[-1] if tail else "no output")
    result = {}
    for d in sdk_dirs:
        if d in failed:
            result[d] = (None, failed[d])
        else:
            with open(pkg(d)) as f:
                result[d] = (json.load(f)["version"], None)
    return result


class Node:
    """bench/node/server.mjs on one SDK, on its own loopback port."""

    def __init__(self, name, sdk_dir, key, log_dir):
        self.name = name
        self.port = harness.free_port()
        env = {k: v for k, v in os.environ.items()
               if k in ("PATH", "HOME", "LANG", "TZ")}
        env.update({
            "NODE_ENV": "production", "INNGEST_DEV": "0",
            "INNGEST_SIGNING_KEY": key, "INNGEST_EVENT_KEY": "x",
            "INNGEST_BASE_URL": "http://127.0.0.1:9",
            "INNGEST_SERVE_ORIGIN": "http://127.0.0.1:%d" % self.port})
        self.proc = harness.spawn(["node", SERVER_JS, sdk_dir,
                                   str(self.port)], name, log_dir, env=env)

        def up():
            if not self.proc.alive():
                raise harness.StopWaiting("%s exited: %s"
                                          % (name, self.proc.log()[-2000:]))
            return "PORT=%d" % self.port in self.proc.log()
        harness.wait_until(up, 30, what=name)
        self.pids = lambda: [self.proc.pid]

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def request(self, method, path, **kw):
        return harness.request(self.port, method, path, **kw)

    def stop(self):
        self.proc.stop()


def omni_env(key):
    """Omni's environment for the benchmarked function: cloud mode (calls
    verified with 'key'), the test functions registered, nothing reached
    outside (cost_get_root.py uses it too)."""
    return {"OMNI_ENV": "development", "LOG_LEVEL": "info",
            "OMNI_DEBUG_ROUTES": "1", "INNGEST_DEV": "0",
            "INNGEST_SIGNING_KEY": key, "INNGEST_EVENT_KEY": "x",
            "INNGEST_APP_ID": "omni",
            "INNGEST_SERVE_ORIGIN": "http://127.0.0.1:9",
            "INNGEST_BASE_URL": "http://127.0.0.1:9"}


class Omni:
    """The pool behind nginx (harness.Stack), cloud mode."""

    def __init__(self, key, workers, threads):
        self.name = "omni"
        self.stack = harness.Stack(workers=workers, threads=threads,
                                   env=omni_env(key)).start()
        self.port = self.stack.port

    def url(self, path):
        return self.stack.url(path)

    def request(self, method, path, **kw):
        return self.stack.request(method, path, **kw)

    def stop(self):
        self.stack.stop()


# --------------------------------------------------------------- checks ---

def check_server(srv, key, notes):
    """Refusals first, then the one signed call every server must run."""
    body = call_body()
    good = sign(key, body)
    ts = good.split("&")[0][2:]
    cases = [
        ("unsigned call", {}, body),
        ("call with a wrong signature",
         {"X-Inngest-Signature": "t=%s&s=%s" % (ts, "0" * 64)}, body),
        ("call signed with another key",
         {"X-Inngest-Signature": sign("signkey-bench-" + "ab" * 32, body)},
         body),
        ("signed call with a changed body",
         {"X-Inngest-Signature": good}, call_body(data_n=2)),
    ]
    for what, headers, b in cases:
        headers = dict(headers, **{"Content-Type": "application/json"})
        r = srv.request("POST", CALL_PATH, body=b, headers=headers)
        if r.status < 400:
            raise BrokenRun("%s: %s was accepted (%d %s)"
                            % (srv.name, what, r.status, r.text[:200]))
        log("%s refuses the %s: %d" % (srv.name, what, r.status))
    r = srv.request("POST", CALL_PATH, body=body, headers={
        "Content-Type": "application/json", "X-Inngest-Signature": good})
    try:
        ops = r.json()
    except ValueError:
        ops = None
    if r.status != 206 or not isinstance(ops, list) or len(ops) != 1:
        raise BrokenRun("%s: the signed call answered %d %s, not 206 with "
                        "one op" % (srv.name, r.status, r.text[:300]))
    op = ops[0]
    if (op.get("op") != "StepRun" or op.get("id") != FIRST_ID
            or op.get("data") != "first"):
        raise BrokenRun("%s: unexpected op %s" % (srv.name, r.text[:300]))
    log("%s runs step first: 206 %s" % (srv.name, r.text[:160]))

    unsigned = srv.request("GET", "/api/inngest")
    signed = srv.request("GET", "/api/inngest", headers={
        "X-Inngest-Signature": sign(key, "")})
    if signed.status != 200 or signed.json().get(
            "authentication_succeeded") is not True:
        raise BrokenRun("%s: signed GET /api/inngest answered %d %s"
                        % (srv.name, signed.status, signed.text[:300]))
    info = signed.json()
    if info.get("mode") != "cloud" or (
            srv.name != "omni" and info.get("function_count") != 1):
        raise BrokenRun("%s: introspection %s" % (srv.name, signed.text))
    notes.append("%s: GET /api/inngest unsigned %d, signed %d (mode %s, "
                 "%d bytes)" % (srv.name, unsigned.status, signed.status,
                                info.get("mode"), len(signed.body)))
    log(notes[-1])
    return unsigned.status == 200


def check_jcs(body, sdk_dir):
    """The body is its own JCS form, by the `canonicalize` package the
    inngest-js version in sdk_dir signs with."""
    js = ("const {createRequire}=require('module');"
          "const r=createRequire(process.argv[1]+'/node_modules/inngest/"
          "package.json');let c=r('canonicalize');c=c.default||c;"
          "process.stdout.write(c(JSON.parse(process.argv[2])))")
    out = subprocess.run(["node", "-e", js, sdk_dir, body],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise BrokenRun("canonicalize check failed: %s" % out.stderr[-500:])
    if out.stdout != body:
        raise BrokenRun("the call body is not its JCS form:\n%s\n%s"
                        % (body, out.stdout))


# ------------------------------------------------------------------ wrk ---

def wrk(args, url, script=None):
    argv = ["wrk"] + args + ([] if script is None else ["-s", script]) + [url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    if out.returncode != 0:
        raise BrokenRun("wrk failed: %s" % text)
    if "Non-2xx" in text or "Socket errors" in text:
        raise BrokenRun("errors while benchmarking %s:\n%s" % (url, text))
    m = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    n = re.search(r"^\s*(\d+) requests in ", text, re.M)
    if not m or not n:
        raise BrokenRun("no Requests/sec in wrk output:\n%s" % text)
    return float(m.group(1)), int(n.group(1))


# ----------------------------------------------------------------- main ---

def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def fmt_mib(kib):
    return "%.1f" % (kib / 1024.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=6, help="s per wrk run")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--warmup", type=int, default=1,
                    help="s of wrk on each row before the first round")
    a = ap.parse_args()
    if not 1 <= a.rounds <= 10 or not 1 <= a.duration <= 30 or \
            not 1 <= a.connections <= 256 or not 1 <= a.threads <= 8 or \
            not 0 <= a.warmup <= 10:
        ap.error("--rounds 1..10, --duration 1..30 s, --connections "
                 "1..256, --threads 1..8, --warmup 0..10 s")
    for tool in ("wrk", "nginx", "node", "npm"):
        if shutil.which(tool) is None:
            raise BrokenRun("%s is not installed" % tool)
    if not os.access(harness.omni_bin(), os.X_OK):
        raise BrokenRun("%s not found: run make" % harness.omni_bin())

    cores = os.cpu_count() or 1
    workers, pool_threads = cores, 16
    wrk_args = ["-t%d" % a.threads, "-c%d" % a.connections,
                "-d%ds" % a.duration]
    work = tempfile.mkdtemp(prefix="omni-bench-sdk-")
    key = "signkey-bench-" + secrets.token_hex(32)
    node_version = subprocess.run(["node", "--version"], capture_output=True,
                                  text=True).stdout.strip()
    versions, skipped, notes = {}, [], []
    load_before = loadavg()
    installed = npm_install([os.path.join(NODE_DIR, sub)
                             for _, sub, _ in SDKS], work)
    for name, sub, label in SDKS:
        version, why = installed[os.path.join(NODE_DIR, sub)]
        if version is None:
            skipped.append("%s skipped: %s" % (label, why))
            log(skipped[-1])
        else:
            versions[name] = version
            log("%s: inngest %s" % (name, version))

    servers = {}
    try:
        log("starting Omni: %d workers x %d threads behind nginx"
            % (workers, pool_threads))
        servers["omni"] = Omni(key, workers, pool_threads)
        for name, sub, _ in SDKS:
            if name in versions:
                log("starting %s (inngest %s)" % (name, versions[name]))
                servers[name] = Node(name, os.path.join(NODE_DIR, sub), key,
                                     work)
        body = call_body()
        for name, sub, _ in SDKS:
            if name in versions:
                check_jcs(body, os.path.join(NODE_DIR, sub))
        log("the call body is its JCS form (%d bytes)" % len(body))
        omni_public = True
        for name, srv in servers.items():
            ok = check_server(srv, key, notes)
            if name == "omni":
                omni_public = ok
        if not omni_public:
            raise BrokenRun("Omni's unsigned GET /api/inngest is not 200")

        procs = {"Omni pool (master + workers)":
                 servers["omni"].stack.pool.pid,
                 "nginx (master + workers)":
                 servers["omni"].stack.front_proc.pid}
        for name, _, label in SDKS:
            if name in servers:
                procs["Node, %s %s" % (label.split()[0], versions[name])] = \
                    servers[name].proc.pid
        rest = {k: rss_kib(p) for k, p in procs.items()}
        counts = {k: len(tree(p)) for k, p in procs.items()}

        # Rows: (key, label, server, path, method, signed body or None,
        # signed?)
        rows = [("omni_root", "Omni GET / (via nginx)", "omni", "/", "GET",
                 None, False),
                ("omni_get", "Omni GET /api/inngest, unsigned (via nginx)",
                 "omni", "/api/inngest", "GET", None, False),
                ("omni_get_signed", "Omni GET /api/inngest, signed (via "
                 "nginx)", "omni", "/api/inngest", "GET", "", True),
                ("omni_call", "Omni signed one-step call (via nginx)", "omni",
                 CALL_PATH, "POST", body, True)]
        for name, _, label in SDKS:
            if name in servers:
                v = "Node %s %s" % (label.split()[0], versions[name])
                rows.append((name + "_get_signed", "%s GET /api/inngest, "
                             "signed (direct)" % v, name, "/api/inngest",
                             "GET", "", True))
                rows.append((name + "_call", "%s signed one-step call "
                             "(direct)" % v, name, CALL_PATH, "POST", body,
                             True))

        def scripts():
            """Lua scripts with a signature made now, the same header for
            every server."""
            sig_call, sig_get = sign(key, body), sign(key, "")
            out = {}
            for rk, _, _, _, method, b, signed in rows:
                if not signed and method == "GET":
                    out[rk] = None
                    continue
                sig = sig_call if method == "POST" else sig_get
                out[rk] = lua_script(os.path.join(work, rk + ".lua"), method,
                                     b if method == "POST" else None, sig)
            return out

        results = {r[0]: [] for r in rows}
        # CPU time of the server's processes (and of nginx for Omni's
        # rows) per request, over each measured wrk run.
        cpu = {r[0]: [] for r in rows}
        cpu_nginx = {r[0]: [] for r in rows}
        pid_of = {"omni": servers["omni"].stack.pool.pid}
        for name, _, _ in SDKS:
            if name in servers:
                pid_of[name] = servers[name].proc.pid
        nginx_pid = servers["omni"].stack.front_proc.pid
        if a.warmup:
            sc = scripts()
            log("warm-up: %d s of wrk on each row" % a.warmup)
            for rk, _, srv, path, *_ in rows:
                wrk(["-t%d" % a.threads, "-c%d" % a.connections,
                     "-d%ds" % a.warmup], servers[srv].url(path), sc[rk])
        for rnd in range(a.rounds):
            sc = scripts()
            for rk, label, srv, path, *_ in rows:
                c0, n0 = cpu_s(pid_of[srv]), cpu_s(nginx_pid)
                rps, count = wrk(wrk_args, servers[srv].url(path), sc[rk])
                cpu[rk].append((cpu_s(pid_of[srv]) - c0) / count * 1e6)
                cpu_nginx[rk].append((cpu_s(nginx_pid) - n0) / count * 1e6)
                results[rk].append(rps)
                log("round %d/%d  %-52s %9.0f req/s"
                    % (rnd + 1, a.rounds, label, rps))
        after = {k: rss_kib(p) for k, p in procs.items()}
        load_after = loadavg()
        # The same signed call still answers 206 once the load is over.
        for name, srv in servers.items():
            r = srv.request("POST", CALL_PATH, body=body, headers={
                "Content-Type": "application/json",
                "X-Inngest-Signature": sign(key, body)})
            if r.status != 206:
                raise BrokenRun("%s: after the load the call answered %d"
                                % (name, r.status))
    finally:
        for srv in reversed(list(servers.values())):
            try:
                srv.stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping
                log("stopping %s: %r" % (srv.name, exc))
        shutil.rmtree(work, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in results.items()}
    out = []
    p = out.append
    p("## Omni against the official Inngest SDK")
    p("")
    sdk_list = ", ".join("inngest %s" % versions[n] for n, _, _ in SDKS
                         if n in versions) or "none"
    p("%d cores; Omni %d workers x %d threads behind nginx (LOG_LEVEL=info, "
      "cloud mode); %s on Node %s, one process each, direct on its own "
      "port (NODE_ENV=production, INNGEST_DEV=0). wrk `%s`, %d rounds "
      "alternated, %d s warm-up per row; medians. 1-minute load average "
      "%s before the run, %s after the last round (wrk, nginx and every "
      "server share the cores)."
      % (cores, workers, pool_threads, sdk_list, node_version,
         " ".join(wrk_args), a.rounds, a.warmup, load_before, load_after))
    for s in skipped:
        p("")
        p("**%s**" % s)
    p("")
    p("CPU per request: user + system time of the server's processes (Omni:"
      " master and workers; Node: its one process) during each measured "
      "run, divided by the requests wrk counted; median of the rounds.")
    p("")
    p("| request | median req/s | rounds, req/s | server CPU us/request "
      "| nginx CPU us/request |")
    p("|---|---|---|---|---|")
    for rk, label, srv, *_ in rows:
        p("| %s | %.0f | %s | %.0f | %s |" % (
            label, med[rk], ", ".join("%.0f" % x for x in results[rk]),
            statistics.median(cpu[rk]),
            "%.0f" % statistics.median(cpu_nginx[rk]) if srv == "omni"
            else "-"))
    p("")
    p("| ratio | of the medians | per round | goal |")
    p("|---|---|---|---|")

    def ratio(label, num, den, goal=None, ok=None):
        if num not in med or den not in med:
            return
        v = med[num] / med[den]
        g = "" if goal is None else "%s (%s)" % (
            goal, "met" if ok(v) else "missed")
        each = ", ".join("%.2f" % (x / y)
                         for x, y in zip(results[num], results[den]))
        p("| %s | %.2f | %s | %s |" % (label, v, each, g))
    ratio("Omni GET /api/inngest / Omni GET /", "omni_get", "omni_root",
          ">= 0.90", lambda v: v >= 0.90)
    ratio("Omni signed GET /api/inngest / Omni GET /", "omni_get_signed",
          "omni_root")
    ratio("Omni call / Omni GET /", "omni_call", "omni_root", ">= 0.80",
          lambda v: v >= 0.80)
    ratio("Omni call / Node 3.x call", "omni_call", "node3_call", ">= 20",
          lambda v: v >= 20)
    ratio("Omni call / Node 4.x call", "omni_call", "node4_call")
    ratio("Omni signed GET /api/inngest / Node 3.x signed GET",
          "omni_get_signed", "node3_get_signed")
    ratio("Omni signed GET /api/inngest / Node 4.x signed GET",
          "omni_get_signed", "node4_get_signed")
    p("")
    p("| processes | count | RSS at rest, MiB | RSS after load, MiB | "
      "peak (VmHWM), MiB | PSS at rest, MiB | PSS after load, MiB |")
    p("|---|---|---|---|---|---|---|")
    for k in procs:
        p("| %s | %d | %s | %s | %s | %s | %s |"
          % (k, counts[k], fmt_mib(rest[k][0]), fmt_mib(after[k][0]),
             fmt_mib(after[k][1]), fmt_mib(rest[k][2]),
             fmt_mib(after[k][2])))
    pool_key = "Omni pool (master + workers)"
    for name, _, label in SDKS:
        k = "Node, %s %s" % (label.split()[0], versions.get(name, ""))
        if k not in after:
            continue
        by_rss = after[pool_key][0] / after[k][0]
        by_pss = (after[pool_key][2] / after[k][2] if after[k][2]
                  else float("nan"))
        goal = ""
        if name == "node3":
            goal = " (goal <= 0.10: %s by RSS, %s by PSS)" % (
                "met" if by_rss <= 0.10 else "missed",
                "met" if by_pss <= 0.10 else "missed")
        p("")
        p("Omni pool / %s, after load: %.3f by RSS, %.3f by PSS%s; "
          "%s / Omni pool: %.1fx by RSS, %.1fx by PSS."
          % (k, by_rss, by_pss, goal, k, 1 / by_rss, 1 / by_pss))
    p("")
    p("Checked before measuring, on every server: an unsigned call, a wrong "
      "signature, another key's signature and a changed body are refused "
      "(401); the signed call answers 206 with one StepRun op for step "
      "`first` (id %s). %s." % (FIRST_ID, "; ".join(notes)))
    print("\n".join(out))
    log("done in %.0f s" % (time.monotonic() - T0))


if __name__ == "__main__":
    try:
        main()
    except BrokenRun as exc:
        log("broken run: %s" % exc)
        sys.exit(1)
