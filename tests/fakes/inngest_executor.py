#!/usr/bin/env python3
"""A small Inngest server for tests and `make run` (Python stdlib only).

It plays the Inngest side of the SDK protocol (docs/SDK_SPEC.md in
inngest/inngest) against an app over real HTTP:

  POST /fn/register            sync: remembers the app's functions
  POST /e/{event key}          events: starts runs, resolves waits
  GET  /v0/runs/{id}/batch     full payload for ctx.use_api
  GET  /v0/runs/{id}/actions

and drives each run to completion with signed call requests
(POST {step url}?fnId=..&stepId=..), handling what the app answers:
200 (done), 206 op arrays (StepRun memoized, StepError retried with the
step as target, StepFailed, StepPlanned run in its own call, Sleep,
WaitForEvent with timeout or a matching event, InvokeFunction,
StepNotFound), and errors as the real server does (httpdriver.ShouldRetry):
X-Inngest-No-Retry: true fails the run, any other non-2xx answer (500,
401, 410, 400 without the header) is retried up to the function's
attempts, and a 2xx answer without X-Inngest-Sdk is not trusted (the
server's ErrNotSDK) and retried.

A control API under /test/ serves the tests:

  GET  /test/health                      {"ok": true}
  GET  /test/functions                   the synced functions
  GET  /test/events                      events received
  POST /test/runs {"function_id", "data"}  start a run directly
  GET  /test/runs                        all runs (summaries)
  GET  /test/runs/{id}[?wait=SECONDS]    one run, optionally waiting for it
                                         to finish
  POST /test/config {...}                change behaviour (see Config)
  POST /test/reset                       forget runs and events

  python3 tests/fakes/inngest_executor.py --port 0 --signing-key KEY \
      [--event-key KEY] [--db runs.sqlite] [--max-sleep 1.0]

prints "inngest-executor listening on 127.0.0.1:PORT" once ready.  With
--db, runs survive a restart (sqlite3): unfinished runs are resumed.

Durations are honoured up to --max-sleep / --max-wait seconds of real time
so that tests stay short; the ops keep the durations the app asked for.
Expressions (trigger "expression", WaitForEvent "if") support a small CEL
subset: paths (event.data.x, async.data.y), string/number/bool/null
literals, == != < <= > >= && || ! and parentheses.
"""
import argparse
import hashlib
import heapq
import hmac
import itertools
import json
import os
import re
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SDK = "omni-test/inngest-executor:v0.1.0"


# --------------------------------------------------------------------------
# Protocol helpers (importable by tests)
# --------------------------------------------------------------------------

KEY_PREFIX = re.compile(r"^signkey-\w+-")


def strip_key(key):
    return KEY_PREFIX.sub("", key)


def sign(key, body, ts=None):
    """X-Inngest-Signature value for bytes `body` (spec 4.1.1)."""
    ts = int(time.time()) if ts is None else int(ts)
    mac = hmac.new(strip_key(key).encode(), body + str(ts).encode(),
                   hashlib.sha256).hexdigest()
    return "t=%d&s=%s" % (ts, mac)


def hash_signing_key(key):
    """Bearer token for API calls (spec 4.1.4)."""
    m = KEY_PREFIX.match(key)
    prefix = m.group(0) if m else ""
    return prefix + hashlib.sha256(bytes.fromhex(strip_key(key))).hexdigest()


def step_hash(step_id, n=0):
    """SHA-1 hex of a step id, with ":n" on the n-th repeat (spec 5.1.2)."""
    s = step_id if n == 0 else "%s:%d" % (step_id, n)
    return hashlib.sha1(s.encode()).hexdigest()


def should_retry(hdr):
    """Whether the Inngest server retries a non-2xx call answer.

    Mirrors pkg/execution/driver/httpdriver ShouldRetry: the
    X-Inngest-No-Retry header decides when present; without it every
    status is retried (the 4xx exception is for inngest-js < 1.10.1 / 2.4.1
    only).
    """
    no_retry = hdr.get("x-inngest-no-retry")
    if no_retry:
        return no_retry != "true"
    return True


def canonical(obj):
    """JCS for the JSON this executor sends (ASCII keys, ints, strings)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0,
          "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text):
    """Seconds in a time string ("1m30s", "250ms") or an RFC 3339 date."""
    total, pos = 0.0, 0
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w)", text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos == len(text) and pos > 0:
        return total
    try:
        from datetime import datetime
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return max(0.0, t.timestamp() - time.time())
    except ValueError:
        raise ValueError("bad duration %r" % text)


# --------------------------------------------------------------------------
# A small CEL subset
# --------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<num>-?\d+(?:\.\d+)?)|
    (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|
    (?P<op>==|!=|<=|>=|&&|\|\||[<>!()])|
    (?P<path>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""", re.X)


class Expr:
    def __init__(self, text):
        self.toks, pos = [], 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ValueError("cannot parse expression at %r" % text[pos:])
            kind = m.lastgroup
            self.toks.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0
        self.tree = self._or()
        if self.i != len(self.toks):
            raise ValueError("trailing tokens in expression")

    def _peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def _take(self, value=None):
        tok = self._peek()
        if value is not None and tok[1] != value:
            raise ValueError("expected %r" % value)
        self.i += 1
        return tok

    def _or(self):
        node = self._and()
        while self._peek()[1] == "||":
            self._take()
            node = ("or", node, self._and())
        return node

    def _and(self):
        node = self._cmp()
        while self._peek()[1] == "&&":
            self._take()
            node = ("and", node, self._cmp())
        return node

    def _cmp(self):
        node = self._unary()
        if self._peek()[1] in ("==", "!=", "<", "<=", ">", ">="):
            op = self._take()[1]
            node = ("cmp", op, node, self._unary())
        return node

    def _unary(self):
        kind, val = self._peek()
        if val == "!":
            self._take()
            return ("not", self._unary())
        if val == "(":
            self._take()
            node = self._or()
            self._take(")")
            return node
        self._take()
        if kind == "num":
            return ("lit", float(val) if "." in val else int(val))
        if kind == "str":
            return ("lit", json.loads('"%s"' % val[1:-1].replace('"', '\\"'))
                    if val[0] == "'" else json.loads(val))
        if kind == "path":
            if val in ("true", "false", "null"):
                return ("lit", {"true": True, "false": False,
                                "null": None}[val])
            return ("path", val.split("."))
        raise ValueError("unexpected token %r" % val)

    def eval(self, env):
        return self._eval(self.tree, env)

    def _eval(self, n, env):
        kind = n[0]
        if kind == "lit":
            return n[1]
        if kind == "path":
            cur = env
            for part in n[1]:
                if not isinstance(cur, dict) or part not in cur:
                    return None
                cur = cur[part]
            return cur
        if kind == "not":
            return not self._eval(n[1], env)
        if kind == "and":
            return bool(self._eval(n[1], env)) and bool(self._eval(n[2], env))
        if kind == "or":
            return bool(self._eval(n[1], env)) or bool(self._eval(n[2], env))
        op, a, b = n[1], self._eval(n[2], env), self._eval(n[3], env)
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        try:
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        except TypeError:
            return False


def matches(expr, env):
    if not expr:
        return True
    try:
        return bool(Expr(expr).eval(env))
    except ValueError:
        return False


# --------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------

class Config:
    """Knobs the control API can change at run time."""

    def __init__(self, args):
        self.signing_key = args.signing_key or ""
        self.event_key = args.event_key or ""
        self.max_sleep = args.max_sleep
        self.max_wait = args.max_wait
        self.retry_delay = args.retry_delay
        self.call_timeout = args.call_timeout
        self.default_retries = 3
        self.bad_signature = False   # sign calls with a wrong key
        self.unsigned = False        # send calls without a signature
        self.sign_canonical = False  # send spaced JSON, sign its JCS form
        self.use_api = False         # trim bodies, set ctx.use_api
        self.server_kind = "dev"

    def update(self, d):
        for k, v in d.items():
            if not hasattr(self, k):
                raise KeyError(k)
            setattr(self, k, v)

    def public(self):
        return {k: v for k, v in vars(self).items() if k != "signing_key"
                and k != "event_key"}


class Run:
    def __init__(self, run_id, fn_id, event, parent=None):
        self.id = run_id
        self.fn_id = fn_id
        self.event = event
        self.event_id = event.get("id")
        self.events = [event]
        self.steps = {}          # hashed id -> memoized value
        self.stack = []          # memoization order
        self.status = "running"  # running | completed | failed
        self.output = None
        self.error = None
        self.disable_immediate = False
        self.inflight = set()    # planned steps being run by target
        self.waits = {}          # hashed id -> {"event", "if", "timer"}
        self.sleeps = set()      # hashed ids sleeping
        self.children = {}       # child run id -> hashed id
        self.parent = parent     # (run id, hashed id) for invokes
        self.attempts = {}       # call key -> failed attempts so far
        self.calls = []          # history: one entry per call request
        self.started = time.time()
        self.ended = None

    def summary(self, full=False):
        d = {"run_id": self.id, "function_id": self.fn_id,
             "event_id": self.event_id,
             "status": self.status, "output": self.output,
             "error": self.error, "call_count": len(self.calls)}
        if full:
            d.update(event=self.event, steps=self.steps, stack=self.stack,
                     calls=self.calls, waiting=sorted(self.waits),
                     sleeping=sorted(self.sleeps))
        return d

    def to_json(self):
        d = dict(vars(self))
        d["inflight"] = sorted(self.inflight)
        d["sleeps"] = sorted(self.sleeps)
        d["waits"] = {k: {"event": w["event"], "if": w["if"],
                          "until": w["until"]} for k, w in self.waits.items()}
        return json.dumps(d)

    @classmethod
    def from_json(cls, text):
        d = json.loads(text)
        r = cls(d["id"], d["fn_id"], d["event"])
        for k, v in d.items():
            setattr(r, k, v)
        r.inflight = set(d["inflight"])
        r.sleeps = set(d["sleeps"])
        r.parent = tuple(d["parent"]) if d["parent"] else None
        return r


class Executor:
    def __init__(self, cfg, db_path=None):
        self.cfg = cfg
        self.lock = threading.RLock()
        self.wake = threading.Condition(self.lock)
        self.functions = {}      # composite id -> function config
        self.app_url = None
        self.syncs = 0
        self.events = []
        self.runs = {}
        self.queue = []          # (due, seq, run id, kind, arg)
        self.seq = itertools.count()
        self.stopping = False
        self.db = None
        if db_path:
            self.db = sqlite3.connect(db_path, check_same_thread=False)
            self.db.execute("CREATE TABLE IF NOT EXISTS runs (id TEXT "
                            "PRIMARY KEY, body TEXT)")
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT "
                            "PRIMARY KEY, v TEXT)")
            with self.lock:
                self._load()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    # ---- persistence --------------------------------------------------------

    def _save(self, run):
        if self.db:
            self.db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?)",
                            (run.id, run.to_json()))
            self.db.commit()

    def _save_meta(self):
        if self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                            ("functions", json.dumps(self.functions)))
            self.db.commit()

    def _load(self):
        row = self.db.execute("SELECT v FROM meta WHERE k='functions'"
                              ).fetchone()
        if row:
            self.functions = json.loads(row[0])
        for (body,) in self.db.execute("SELECT body FROM runs"):
            run = Run.from_json(body)
            self.runs[run.id] = run
            if run.status != "running":
                continue
            # Resume: sleeps and waits end at their deadlines; in-flight
            # steps and discovery are simply called again.
            for h in run.sleeps:
                self._push(0.0, run.id, "resume", (h, None))
            for h, w in run.waits.items():
                self._push(max(0.0, w["until"] - time.time()), run.id,
                           "timeout", h)
            for h in run.inflight:
                self._push(0.0, run.id, "call", h)
            if not run.inflight:
                self._push(0.0, run.id, "call", "step")

    # ---- scheduling ---------------------------------------------------------

    def _push(self, delay, run_id, kind, arg):
        heapq.heappush(self.queue, (time.time() + delay, next(self.seq),
                                    run_id, kind, arg))
        self.wake.notify_all()

    def _loop(self):
        while True:
            with self.lock:
                while not self.stopping and (
                        not self.queue or self.queue[0][0] > time.time()):
                    timeout = None
                    if self.queue:
                        timeout = max(0.0, self.queue[0][0] - time.time())
                    self.wake.wait(timeout)
                if self.stopping:
                    return
                _, _, run_id, kind, arg = heapq.heappop(self.queue)
                run = self.runs.get(run_id)
                if run is None or run.status != "running":
                    continue
                if kind == "resume":
                    self._memoize(run, arg[0], arg[1])
                    run.sleeps.discard(arg[0])
                    self._discover(run)
                    self._save(run)
                    continue
                if kind == "timeout":
                    if arg in run.waits:
                        del run.waits[arg]
                        self._memoize(run, arg, None)
                        self._discover(run)
                        self._save(run)
                    continue
                request = self._build_call(run, arg)
            # The call runs without the lock: the app may send events to us
            # while we wait for its answer.
            result = self._send_call(*request)
            with self.lock:
                self._handle(run, arg, request, result)
                self._save(run)

    # ---- runs ---------------------------------------------------------------

    def start_run(self, fn_id, event, parent=None):
        """Start a run of `fn_id` for `event`; caller holds the lock."""
        run = Run("run-" + uuid.uuid4().hex[:20], fn_id, event, parent)
        self.runs[run.id] = run
        self._push(0.0, run.id, "call", "step")
        self._save(run)
        return run

    def _max_attempts(self, run):
        fn = self.functions.get(run.fn_id, {})
        retries = fn.get("steps", {}).get("step", {}).get(
            "retries", {}).get("attempts", self.cfg.default_retries)
        return int(retries) + 1

    def _step_url(self, run, target):
        fn = self.functions[run.fn_id]
        url = fn["steps"]["step"]["runtime"]["url"]
        parts = urllib.parse.urlsplit(url)
        q = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query)
             if k != "stepId"]
        q.append(("stepId", target))
        return urllib.parse.urlunsplit(parts._replace(
            query=urllib.parse.urlencode(q)))

    def _build_call(self, run, target):
        attempt = run.attempts.get(target, 0)
        ctx = {"run_id": run.id, "attempt": attempt,
               "max_attempts": self._max_attempts(run),
               "disable_immediate_execution": run.disable_immediate,
               "use_api": bool(self.cfg.use_api),
               "stack": {"stack": list(run.stack),
                         "current": len(run.stack)}}
        body = {"event": run.event, "events": run.events,
                "steps": run.steps, "ctx": ctx}
        if self.cfg.use_api:
            body["events"], body["steps"] = [], {}
        if self.cfg.sign_canonical:
            raw = json.dumps(body, indent=1).encode()  # not canonical
            signed = canonical(body)
        else:
            raw = signed = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json",
                   "X-Inngest-Server-Kind": self.cfg.server_kind,
                   "User-Agent": SDK}
        if not self.cfg.unsigned:
            key = self.cfg.signing_key
            if self.cfg.bad_signature:
                key = "signkey-test-" + "0" * 64
            headers["X-Inngest-Signature"] = sign(key, signed)
        return (self._step_url(run, target), raw, headers, attempt)

    def _send_call(self, url, raw, headers, attempt):
        req = urllib.request.Request(url, data=raw, headers=headers,
                                     method="POST")
        t0 = time.time()
        try:
            with urllib.request.urlopen(req,
                                        timeout=self.cfg.call_timeout) as r:
                return (r.status, dict(r.headers), r.read(),
                        time.time() - t0)
        except urllib.error.HTTPError as e:
            return (e.code, dict(e.headers), e.read(), time.time() - t0)
        except (urllib.error.URLError, OSError) as e:
            return (0, {}, str(e).encode(), time.time() - t0)

    def _handle(self, run, target, request, result):
        status, headers, body, took = result
        hdr = {k.lower(): v for k, v in headers.items()}
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        entry = {"step_id": target, "attempt": request[3], "status": status,
                 "no_retry": hdr.get("x-inngest-no-retry"),
                 "retry_after": hdr.get("retry-after"),
                 "sdk": hdr.get("x-inngest-sdk"),
                 "req_version": hdr.get("x-inngest-req-version"),
                 "ms": int(took * 1000)}
        if status == 206 and isinstance(parsed, list):
            entry["ops"] = [op.get("op") for op in parsed]
        elif status != 200:
            entry["body"] = parsed if parsed is not None else \
                body.decode(errors="replace")[:500]
        run.calls.append(entry)
        if status in (200, 206) and not hdr.get("x-inngest-sdk"):
            # The server refuses to trust a 2xx that no SDK produced.
            status, entry["not_sdk"] = 0, True

        if status == 200:
            run.attempts.pop(target, None)
            run.inflight.discard(target)
            self._finish(run, "completed", output=parsed)
        elif status == 206 and isinstance(parsed, list):
            if target == "step":
                run.attempts.pop(target, None)
            self._ops(run, target, parsed, hdr)
        elif not should_retry(hdr):
            self._finish(run, "failed", error=parsed if parsed is not None
                         else body.decode(errors="replace"))
        else:
            # 500, 401, network errors, anything unexpected: retry.
            n = run.attempts.get(target, 0) + 1
            if n >= self._max_attempts(run):
                self._finish(run, "failed", error=parsed if parsed is not None
                             else body.decode(errors="replace"))
            else:
                run.attempts[target] = n
                self._push(self._retry_delay(hdr), run.id, "call", target)

    def _retry_delay(self, hdr):
        delay = self.cfg.retry_delay
        ra = hdr.get("retry-after")
        if ra and ra.isdigit():
            delay = min(float(ra), self.cfg.max_sleep)
        return delay

    def _memoize(self, run, h, value):
        run.steps[h] = value
        if h not in run.stack:
            run.stack.append(h)

    def _discover(self, run):
        """Call the function without a target once nothing is in flight."""
        if run.status == "running" and not run.inflight:
            self._push(0.0, run.id, "call", "step")

    def _ops(self, run, target, ops, hdr):
        if len(ops) > 1:
            run.disable_immediate = True
        progressed = False
        for op in ops:
            h, kind = op.get("id"), op.get("op")
            if h in run.steps and kind != "StepNotFound":
                continue  # already memoized: a duplicate report
            if kind == "StepRun":
                self._memoize(run, h, {"data": op.get("data")})
                run.inflight.discard(h)
                run.attempts.pop(h, None)
                progressed = True
            elif kind == "StepError":
                n = run.attempts.get(h, 0) + 1
                if n >= self._max_attempts(run):
                    self._memoize(run, h, {"error": op.get("error")})
                    run.inflight.discard(h)
                    run.attempts.pop(h, None)
                    progressed = True
                else:
                    run.attempts[h] = n
                    run.inflight.add(h)
                    self._push(self._retry_delay(hdr), run.id, "call", h)
            elif kind == "StepFailed":
                self._memoize(run, h, {"error": op.get("error")})
                run.inflight.discard(h)
                run.attempts.pop(h, None)
                progressed = True
            elif kind == "StepPlanned":
                if h not in run.inflight:
                    run.inflight.add(h)
                    self._push(0.0, run.id, "call", h)
            elif kind == "Sleep":
                if h not in run.sleeps:
                    secs = parse_duration(op["opts"]["duration"])
                    run.sleeps.add(h)
                    self._push(min(secs, self.cfg.max_sleep), run.id,
                               "resume", (h, None))
            elif kind == "WaitForEvent":
                if h not in run.waits:
                    opts = op.get("opts", {})
                    secs = min(parse_duration(opts["timeout"]),
                               self.cfg.max_wait)
                    run.waits[h] = {"event": opts.get("event"),
                                    "if": opts.get("if"),
                                    "until": time.time() + secs}
                    self._push(secs, run.id, "timeout", h)
            elif kind == "InvokeFunction":
                opts = op.get("opts", {})
                fid = opts.get("function_id")
                if fid not in self.functions:
                    self._memoize(run, h, {"error": {
                        "name": "FunctionNotFound",
                        "message": "no function %s" % fid}})
                    progressed = True
                elif h not in run.children.values():
                    payload = opts.get("payload") or {}
                    ev = {"name": "inngest/function.invoked",
                          "data": payload.get("data") or {},
                          "id": uuid.uuid4().hex,
                          "ts": int(time.time() * 1000)}
                    child = self.start_run(fid, ev, parent=(run.id, h))
                    run.children[child.id] = h
            elif kind == "StepNotFound":
                run.inflight.discard(target)
                progressed = True
        if progressed or (target != "step" and target not in run.inflight):
            self._discover(run)

    def _finish(self, run, status, output=None, error=None):
        run.status, run.output, run.error = status, output, error
        run.ended = time.time()
        for w in list(run.waits):
            del run.waits[w]
        if run.parent:
            parent = self.runs.get(run.parent[0])
            if parent and parent.status == "running":
                value = {"data": output} if status == "completed" else \
                    {"error": error if isinstance(error, dict) else
                     {"name": "Error", "message": str(error)}}
                self._memoize(parent, run.parent[1], value)
                parent.children.pop(run.id, None)
                self._discover(parent)
                self._save(parent)
        self.wake.notify_all()

    # ---- events -------------------------------------------------------------

    def receive(self, events):
        """Store events, start triggered runs, resolve waits.  Locked."""
        ids = []
        for ev in events:
            ev = dict(ev)
            ev.setdefault("id", uuid.uuid4().hex)
            ev.setdefault("ts", int(time.time() * 1000))
            ev.setdefault("data", {})
            ids.append(ev["id"])
            self.events.append(ev)
            for run in list(self.runs.values()):
                if run.status != "running":
                    continue
                for h, w in list(run.waits.items()):
                    if w["event"] == ev.get("name") and matches(
                            w["if"], {"event": run.event, "async": ev}):
                        del run.waits[h]
                        self._memoize(run, h, ev)
                        self._discover(run)
                        self._save(run)
            for fid, fn in self.functions.items():
                for trig in fn.get("triggers", []):
                    if trig.get("event") == ev.get("name") and matches(
                            trig.get("expression"), {"event": ev}):
                        self.start_run(fid, ev)
        return ids

    def wait_for(self, run_id, timeout):
        deadline = time.time() + timeout
        with self.lock:
            while True:
                run = self.runs.get(run_id)
                if run is None or run.status != "running":
                    return run
                left = deadline - time.time()
                if left <= 0:
                    return run
                self.wake.wait(left)

    def stop(self):
        with self.lock:
            self.stopping = True
            self.wake.notify_all()


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    server_version = "inngest-executor"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("executor: " + fmt % args + "\n")

    @property
    def ex(self):
        return self.server.executor

    def _reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        return json.loads(raw) if raw else None

    def _authorized(self):
        key = self.ex.cfg.signing_key
        if not key:
            return True
        want = "Bearer " + hash_signing_key(key)
        return hmac.compare_digest(self.headers.get("Authorization", ""),
                                   want)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        parts = url.path.strip("/").split("/")
        ex = self.ex
        if url.path == "/test/health":
            return self._reply(200, {"ok": True, "syncs": ex.syncs})
        if url.path == "/test/functions":
            with ex.lock:
                return self._reply(200, {"app_url": ex.app_url,
                                         "functions": ex.functions})
        if url.path == "/test/events":
            with ex.lock:
                return self._reply(200, {"events": ex.events})
        if url.path == "/test/runs":
            with ex.lock:
                return self._reply(200, {"runs": [
                    r.summary() for r in ex.runs.values()]})
        if len(parts) == 3 and parts[:2] == ["test", "runs"]:
            run = ex.wait_for(parts[2], float(q.get("wait", 0)))
            if run is None:
                return self._reply(404, {"error": "no such run"})
            with ex.lock:
                return self._reply(200, run.summary(full=True))
        if len(parts) == 4 and parts[:2] == ["v0", "runs"]:
            if not self._authorized():
                return self._reply(401, {"error": "unauthorized",
                                         "status": 401})
            with ex.lock:
                run = ex.runs.get(parts[2])
                if run is None:
                    return self._reply(404, {"error": "no such run",
                                             "status": 404})
                if parts[3] == "batch":
                    return self._reply(200, run.events)
                if parts[3] == "actions":
                    return self._reply(200, run.steps)
        self._reply(404, {"error": "not found"})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        ex = self.ex
        try:
            body = self._body()
        except ValueError:
            return self._reply(400, {"error": "invalid JSON", "status": 400})
        if url.path == "/fn/register":
            if not self._authorized():
                return self._reply(401, {"error": "unauthorized"})
            if not isinstance(body, dict) or not body.get("url") or \
                    body.get("deployType") != "ping" or \
                    not body.get("appName"):
                return self._reply(400, {"error": "invalid sync payload"})
            with ex.lock:
                fns = {f["id"]: f for f in body.get("functions", [])}
                modified = fns != ex.functions
                ex.functions, ex.app_url = fns, body["url"]
                ex.syncs += 1
                ex._save_meta()
            return self._reply(200, {"ok": True, "modified": modified})
        if url.path.startswith("/e/"):
            key = urllib.parse.unquote(url.path[3:])
            if ex.cfg.event_key and not hmac.compare_digest(
                    key, ex.cfg.event_key):
                return self._reply(401, {"error": "bad event key",
                                         "status": 401})
            events = body if isinstance(body, list) else [body]
            if not events or not all(isinstance(e, dict) and e.get("name")
                                     for e in events):
                return self._reply(400, {"error": "events need a name",
                                         "status": 400})
            with ex.lock:
                ids = ex.receive(events)
            return self._reply(200, {"ids": ids, "status": 200})
        if url.path == "/test/runs":
            body = body or {}
            with ex.lock:
                if body.get("function_id") not in ex.functions:
                    return self._reply(404, {"error": "unknown function"})
                ev = body.get("event") or {
                    "name": "inngest/function.invoked",
                    "data": body.get("data") or {}}
                ev.setdefault("id", uuid.uuid4().hex)
                ev.setdefault("ts", int(time.time() * 1000))
                run = ex.start_run(body["function_id"], ev)
            return self._reply(201, {"run_id": run.id})
        if url.path == "/test/config":
            with ex.lock:
                try:
                    ex.cfg.update(body or {})
                except KeyError as e:
                    return self._reply(400, {"error": "unknown knob %s" % e})
                return self._reply(200, ex.cfg.public())
        if url.path == "/test/reset":
            with ex.lock:
                ex.runs.clear()
                ex.events.clear()
                ex.queue.clear()
            return self._reply(200, {"ok": True})
        self._reply(404, {"error": "not found"})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8288)
    p.add_argument("--signing-key", default=os.environ.get(
        "INNGEST_SIGNING_KEY", ""))
    p.add_argument("--event-key", default=os.environ.get(
        "INNGEST_EVENT_KEY", ""))
    p.add_argument("--db", help="SQLite file to keep runs in")
    p.add_argument("--max-sleep", type=float, default=1.0,
                   help="longest real sleep for Sleep ops, seconds")
    p.add_argument("--max-wait", type=float, default=2.0,
                   help="longest real WaitForEvent timeout, seconds")
    p.add_argument("--retry-delay", type=float, default=0.05)
    p.add_argument("--call-timeout", type=float, default=30.0)
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        p.error("listen on loopback only")

    executor = Executor(Config(args), args.db)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.executor = executor
    server.verbose = args.verbose
    print("inngest-executor listening on %s:%d" % server.server_address[:2],
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        executor.stop()
        server.server_close()


if __name__ == "__main__":
    main()
