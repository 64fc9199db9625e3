"""harness.py -- run Omni behind a real nginx or Caddy on loopback, for tests.

Python 3 standard library only.  Every process started here is tracked and
stopped by its pid (then its process group, which it leads) when the test
stops it, when the interpreter exits (atexit) or on SIGTERM; nothing is
left running.  All traffic goes to 127.0.0.1.

API (other test files import this module; keep it stable):

  REPO                    repository root
  omni_bin()              the binary under test: $OMNI_BIN, else build/omni-fcgi
  FRONTS                  ("nginx", "caddy")
  free_port() -> int      a free TCP port on 127.0.0.1
  wait_until(pred, timeout, interval=0.05, what="") -> value
                          poll pred() until it returns a truthy value
                          (returned) or raise TimeoutError naming 'what';
                          pred may raise StopWaiting to give up at once
  request(port, method, path, body=None, headers=None, timeout=10.0,
          chunked=False) -> Response
                          one HTTP/1.1 request on a new connection; body may
                          be bytes, str or (dict/list -> JSON with
                          Content-Type application/json unless given)
  parallel(n, fn, timeout=60) -> list
                          run fn(i) for i in range(n) in n threads started
                          together; each item is fn's result or the
                          exception it raised
  spawn(argv, name, log_dir, env=None, cwd=None) -> Process
                          start any helper (a fake service...) tracked for
                          cleanup, stdout+stderr to log_dir/name.log
  children_of(pid) -> set[int]
                          live (non-zombie) children of a process

  class Response          .status, .reason, .headers (lower-case name ->
                          last value), .header_list (all (name, value)),
                          .body (bytes), .text, .json(), .header(name)
  class Process           .pid, .name, .log_path, .returncode (None while
                          running), .alive(), .signal(sig),
                          .wait(timeout) -> returncode, .stop(sig=SIGTERM,
                          timeout=10) -> returncode (SIGKILL after timeout),
                          .log() -> str, .events() -> [dict] (JSON lines)
  class Stack(front="nginx", workers=2, threads=16, env=None,
              mode="pool", render=(), run_dir=None, port=None)
        The pool (build/omni-fcgi --listen unix:RUN/omni.sock, or with
        mode="spawn-fcgi" the binary under `spawn-fcgi -n -s SOCK`) and the
        front server rendered by scripts/render-front.py from the production
        config into a temporary run directory.  'env' adds to or overrides
        the pool's environment (base: OMNI_ENV=development, LOG_LEVEL=info,
        OMNI_DEBUG_ROUTES=1, OMNI_SHUTDOWN_TIMEOUT=15, OMNI_DATA_DIR=RUN/data,
        plus PATH/HOME/LANG and *SAN_OPTIONS from the caller; nothing else
        is inherited; OMNI_DEBUG_ROUTES is dropped when 'env' asks for
        OMNI_ENV=production without setting it).  'render' is extra
        render-front.py arguments, e.g. ("--set", "OMNI_FCGI_KEEPALIVE=2").
        OMNI_MAX_BODY in 'env' reaches both the pool and the front config.
        'port' fixes the front's port (for a setting that names it, such
        as INNGEST_SERVE_ORIGIN); otherwise a free one is chosen.
        Sizing: nginx renders 2 workers x keepalive 8, so workers x threads
        must exceed 16 (or pass a smaller OMNI_FCGI_KEEPALIVE in 'render').
        .start(timeout=30) -> self   waits until GET / answers 200 through
                                     the front; a context manager too
        .stop()                      front, then pool; idempotent
        .restart_pool(timeout=30)    drain the pool, start a new one
        .port, .run_dir, .log_dir, .socket, .config_path (rendered front
        config), .env (the pool's), .pool (Process), .front_proc (Process)
        .request(method, path, **kw) / .get(path, **kw) /
        .post_json(path, obj, **kw)  through the front server
        .pool_events() -> [dict]     the pool's JSON log lines so far
        .wait_event(match, timeout=10, since=0) -> dict
                                     first pool log line (index >= since)
                                     whose "event" equals match (str) or
                                     for which match(line) is true
        .worker_pids() -> set[int]   live child processes of the master
        .wait_workers(n, timeout=10) -> set[int]
        .sanitizer_errors() -> [str] ASan/UBSan/LSan report lines in the
                                     pool log (empty when clean)
        .dump_logs() -> str          tail of every log, for failure messages
        .stop_and_check() -> [str]   stop (pool first), return the reports
        .stop_checked()              the same, raising on any report

  class SharedStack                  mixin for a TestCase whose tests share
                                     one Stack(FRONT, **STACK_ARGS), started
                                     in setUpClass, stop_checked() at the end

Environment knobs: OMNI_BIN (binary), OMNI_TEST_KEEP=1 keeps run dirs.
"""

import atexit
import http.client
import json
import os
import resource
import shutil
import signal
from signal import SIGKILL, SIGTERM
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
FRONTS = ("nginx", "caddy")
RENDER = os.path.join(REPO, "scripts", "render-front.py")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "ERROR: ThreadSanitizer",
                   "SUMMARY: UndefinedBehaviorSanitizer")

_live = []            # every Process not yet reaped
_live_lock = threading.Lock()


def omni_bin():
    """Path of the binary under test ($OMNI_BIN or build/omni-fcgi)."""
    return os.path.abspath(os.environ.get("OMNI_BIN")
                           or os.path.join(REPO, "build", "omni-fcgi"))


def _raise_nofile():
    """500 concurrent clients need more descriptors than the usual 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 16384 if hard == resource.RLIM_INFINITY else min(hard, 16384)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass


_raise_nofile()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StopWaiting(Exception):
    """Raised by a wait_until predicate to give up at once (a process it
    waits for has exited); passed through to the caller."""


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until truthy (returned) or raise TimeoutError.  Other
    exceptions from pred() are retried, except StopWaiting."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = pred()
            if value:
                return value
        except StopWaiting:
            raise
        except Exception as exc:  # noqa: BLE001 - retried until deadline
            last_exc = exc
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s%s"
                               % (timeout, what,
                                  " (last error: %r)" % last_exc
                                  if last_exc else ""))
        time.sleep(interval)


# ---------------------------------------------------------------- HTTP ---

class Response:
    """An HTTP response read whole."""

    def __init__(self, status, reason, header_list, body):
        self.status = status
        self.reason = reason
        self.header_list = header_list
        self.headers = {k.lower(): v for k, v in header_list}
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Response %d %s %r>" % (self.status, self.headers,
                                        self.body[:300])


def request(port, method, path, body=None, headers=None, timeout=10.0,
            chunked=False):
    """One request on a fresh connection to 127.0.0.1:port."""
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    elif isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if chunked:
            chunks = [body[i:i + 4096] for i in range(0, len(body), 4096)]
            conn.request(method, path, body=iter(chunks), headers=headers,
                         encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.reason, resp.getheaders(), data)
    finally:
        conn.close()


def parallel(n, fn, timeout=60):
    """Run fn(i) for i in range(n), all threads released together."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait(timeout)
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            results[i] = exc

    old = threading.stack_size()
    threading.stack_size(512 * 1024)
    try:
        threads = [threading.Thread(target=run, args=(i,), daemon=True)
                   for i in range(n)]
    finally:
        threading.stack_size(old)
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    for i, t in enumerate(threads):
        if t.is_alive():
            results[i] = TimeoutError("parallel: call %d still running" % i)
    return results


# ----------------------------------------------------------- processes ---

class Process:
    """A child process in its own process group, logging to a file."""

    def __init__(self, argv, name, log_dir, env=None, cwd=None):
        self.name = name
        self.argv = list(argv)
        self.log_path = os.path.join(log_dir, name + ".log")
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, env=env, cwd=cwd,
            start_new_session=True)
        self.pid = self.popen.pid
        with _live_lock:
            _live.append(self)

    def alive(self):
        return self.popen.poll() is None

    @property
    def returncode(self):
        return self.popen.poll()

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        """Return code, or raise subprocess.TimeoutExpired."""
        return self.popen.wait(timeout)

    def _kill_group(self):
        # The group this process leads: its own children (workers) too.
        try:
            os.killpg(self.pid, SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, sig=SIGTERM, timeout=10.0):
        """Signal, wait up to 'timeout', then SIGKILL the group.  Returns
        the exit code (negative: killed by that signal)."""
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_group()
                self.popen.wait(5)
        # Children that outlived their leader (should not happen).
        self._kill_group()
        self._close()
        return self.popen.returncode

    def _close(self):
        with _live_lock:
            if self in _live:
                _live.remove(self)
        if not self._log.closed:
            self._log.close()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def events(self):
        """JSON objects among the log lines (other lines are skipped)."""
        out = []
        for line in self.log().splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out


def spawn(argv, name, log_dir, env=None, cwd=None):
    """Start a helper process tracked for cleanup (see Process)."""
    return Process(argv, name, log_dir, env=env, cwd=cwd)


def _cleanup_all():
    with _live_lock:
        procs = list(_live)
    for p in reversed(procs):
        try:
            p.stop(SIGTERM, timeout=5)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_cleanup_all)


def _on_sigterm(signum, frame):
    _cleanup_all()
    sys.exit(128 + signum)


if threading.current_thread() is threading.main_thread():
    try:
        if signal.getsignal(SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(SIGTERM, _on_sigterm)
    except ValueError:
        pass


def children_of(pid):
    """Pids whose parent is 'pid' (scans /proc)."""
    kids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as f:
                stat = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[0] != "Z" and int(fields[1]) == pid:
            kids.add(int(entry))
    return kids


# --------------------------------------------------------------- stack ---

def malloc_env():
    """{GLIBC_TUNABLES: ...} from deploy/malloc.env: the pool runs in
    tests as make run and the image run it."""
    path = os.path.join(REPO, "deploy", "malloc.env")
    with open(path) as fh:
        for line in fh:
            if line.startswith("GLIBC_TUNABLES="):
                return {"GLIBC_TUNABLES": line.split("=", 1)[1].strip()}
    raise RuntimeError("%s sets no GLIBC_TUNABLES" % path)


def _base_env(run_dir):
    env = {k: v for k, v in os.environ.items()
           if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
           or k.endswith("SAN_OPTIONS")}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update({
        "OMNI_ENV": "development",
        "LOG_LEVEL": "info",
        "OMNI_DEBUG_ROUTES": "1",
        "OMNI_SHUTDOWN_TIMEOUT": "15",
        "OMNI_DATA_DIR": os.path.join(run_dir, "data"),
    })
    env.update(malloc_env())
    return env


class Stack:
    """Omni pool + one front server on a free loopback port."""

    def __init__(self, front="nginx", workers=2, threads=16, env=None,
                 mode="pool", render=(), run_dir=None, pool_args=(),
                 port=None):
        if front not in FRONTS:
            raise ValueError("front must be one of %s" % (FRONTS,))
        if mode not in ("pool", "spawn-fcgi"):
            raise ValueError("mode must be 'pool' or 'spawn-fcgi'")
        self.front = front
        self.workers = workers
        self.threads = threads
        self.mode = mode
        self.render_args = list(render)
        self.pool_args = list(pool_args)  # extra omni-fcgi arguments
        self._own_dir = run_dir is None
        self.run_dir = run_dir or tempfile.mkdtemp(prefix="omni-it-")
        self.log_dir = os.path.join(self.run_dir, "logs")
        os.makedirs(self.log_dir, exist_ok=True)
        self.socket = os.path.join(self.run_dir, "omni.sock")
        self.env = _base_env(self.run_dir)
        self.env.update(env or {})
        if (self.env.get("OMNI_ENV") == "production"
                and "OMNI_DEBUG_ROUTES" not in (env or {})):
            del self.env["OMNI_DEBUG_ROUTES"]  # production refuses them
        os.makedirs(self.env["OMNI_DATA_DIR"], exist_ok=True)
        self.fixed_port = port
        self.port = None
        self.pool = None
        self.front_proc = None
        self.config_path = None

    # -- lifecycle --

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self, timeout=30):
        try:
            self._start_pool(timeout)
            for attempt in range(1 if self.fixed_port else 3):
                self.port = self.fixed_port or free_port()
                self._render()
                self._start_front()
                try:
                    wait_until(self._front_ok, min(timeout, 15),
                               what="%s on port %d" % (self.front,
                                                      self.port))
                    return self
                except (TimeoutError, StopWaiting):
                    # Another process may have taken the port: retry.
                    if self.front_proc.alive() or attempt == 2:
                        raise
                    self.front_proc.stop()
        except BaseException as exc:
            logs = self.dump_logs()
            self.stop()
            if isinstance(exc, Exception):
                raise RuntimeError("stack failed to start: %s\n%s"
                                   % (exc, logs)) from exc
            raise
        return self

    def _pool_argv(self):
        binary = omni_bin()
        if not os.access(binary, os.X_OK):
            raise FileNotFoundError("%s not found: run `make` first (or set "
                                    "OMNI_BIN)" % binary)
        if self.mode == "spawn-fcgi":
            # -n: no fork, spawn-fcgi execs the binary with the socket on
            # fd 0, so the pid we hold is Omni's.
            return ["spawn-fcgi", "-n", "-s", self.socket, "-M", "0600",
                    "--", binary, "--threads", str(self.threads)]
        return [binary, "--listen", "unix:" + self.socket,
                "--workers", str(self.workers), "--threads",
                str(self.threads)] + self.pool_args

    def _start_pool(self, timeout):
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        self.pool = Process(self._pool_argv(), "omni", self.log_dir,
                            env=self.env, cwd=self.run_dir)

        def socket_ready():
            if not self.pool.alive():
                raise StopWaiting("pool exited with %s"
                                  % self.pool.returncode)
            if not os.path.exists(self.socket):
                return False
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(self.socket)
            return True

        wait_until(socket_ready, timeout, what="pool socket")

    def _render(self):
        ext = "conf" if self.front == "nginx" else "Caddyfile"
        self.config_path = os.path.join(self.run_dir, "%s.%s"
                                        % (self.front, ext))
        pool_threads = self.threads * (1 if self.mode == "spawn-fcgi"
                                       else self.workers)
        argv = [sys.executable, RENDER, self.front, "--run-dir",
                self.run_dir, "--port", str(self.port), "--socket",
                self.socket, "--pool-threads", str(pool_threads),
                "--out", self.config_path]
        if "OMNI_MAX_BODY" in self.env:
            argv += ["--max-body", self.env["OMNI_MAX_BODY"]]
        argv += self.render_args
        done = subprocess.run(argv, capture_output=True, text=True,
                              timeout=30)
        if done.returncode != 0:
            raise RuntimeError("render-front failed: %s" % done.stderr)

    def _start_front(self):
        if self.front == "nginx":
            argv = ["nginx", "-p", self.run_dir, "-c", self.config_path,
                    "-e", os.path.join(self.log_dir, "nginx-stderr.log"),
                    "-g", "daemon off;"]
            env = {"PATH": self.env["PATH"]}
        else:
            xdg = os.path.join(self.run_dir, "caddy-home")
            os.makedirs(xdg, exist_ok=True)
            argv = ["caddy", "run", "--config", self.config_path,
                    "--adapter", "caddyfile"]
            env = {"PATH": self.env["PATH"], "HOME": xdg,
                   "XDG_CONFIG_HOME": xdg, "XDG_DATA_HOME": xdg}
        self.front_proc = Process(argv, self.front, self.log_dir, env=env,
                                  cwd=self.run_dir)

    def _front_ok(self):
        if not self.front_proc.alive():
            raise StopWaiting("%s exited with %s"
                               % (self.front, self.front_proc.returncode))
        return self.get("/", timeout=2).status == 200

    def stop_and_check(self):
        """Stop everything and return the sanitizer report lines.  The pool
        stops first: LeakSanitizer reports when a process exits."""
        if self.pool is not None:
            self.pool.stop()
        errors = self.sanitizer_errors()
        self.stop()
        return errors

    def stop_checked(self):
        """stop_and_check(), raising AssertionError on any report."""
        errors = self.stop_and_check()
        if errors:
            raise AssertionError("sanitizer reports:\n" +
                                 "\n".join(errors[:20]))

    def restart_pool(self, timeout=30):
        """Drain the pool (SIGTERM) and start a new one behind the same
        front server, as a deploy does."""
        self.pool.stop(SIGTERM, timeout=20)
        self._start_pool(timeout)

    def restart_front(self, down_s=0.0, timeout=15):
        """Stop the front server, wait 'down_s', start it again on the
        same port and configuration."""
        self.front_proc.stop(SIGTERM, timeout=10)
        time.sleep(down_s)
        self._start_front()
        wait_until(self._front_ok, timeout, what="%s restarted" % self.front)

    def stop(self):
        """Stop the front server, then the pool; idempotent."""
        if self.front_proc is not None:
            self.front_proc.stop(SIGTERM, timeout=10)
        if self.pool is not None:
            self.pool.stop(SIGTERM, timeout=20)
        if self._own_dir and not os.environ.get("OMNI_TEST_KEEP"):
            shutil.rmtree(self.run_dir, ignore_errors=True)

    # -- requests through the front --

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def request(self, method, path, **kw):
        return request(self.port, method, path, **kw)

    def get(self, path, **kw):
        return request(self.port, "GET", path, **kw)

    def post_json(self, path, obj, **kw):
        return request(self.port, "POST", path, body=obj, **kw)

    # -- pool observation --

    def pool_events(self):
        return self.pool.events() if self.pool else []

    def wait_event(self, match, timeout=10, since=0):
        def found():
            for line in self.pool_events()[since:]:
                if (line.get("event") == match if isinstance(match, str)
                        else match(line)):
                    return line
            return None
        return wait_until(found, timeout, what="pool log event %r" % (match,))

    def worker_pids(self):
        if self.pool is None or not self.pool.alive():
            return set()
        return children_of(self.pool.pid)

    def wait_workers(self, n, timeout=10):
        return wait_until(lambda: (lambda s: s if len(s) == n else None)(
            self.worker_pids()), timeout, what="%d workers" % n)

    def sanitizer_errors(self):
        if self.pool is None:
            return []
        return [line for line in self.pool.log().splitlines()
                if any(mark in line for mark in SANITIZER_MARKS)]

    def dump_logs(self, tail=40):
        parts = []
        for name in sorted(os.listdir(self.log_dir)) if os.path.isdir(
                self.log_dir) else []:
            path = os.path.join(self.log_dir, name)
            try:
                with open(path, "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            parts.append("--- %s (last %d lines)\n%s"
                         % (name, tail, "\n".join(lines[-tail:])))
        return "\n".join(parts)


class SharedStack:
    """Mixin for a unittest.TestCase whose tests share one Stack: started
    once per class as Stack(FRONT, **STACK_ARGS), stopped at the end, and
    the class fails on any sanitizer report in the pool's log."""

    FRONT = "nginx"
    STACK_ARGS = {}
    stack = None

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(cls.FRONT, **cls.STACK_ARGS).start()

    @classmethod
    def tearDownClass(cls):
        if cls.stack is not None:
            stack, cls.stack = cls.stack, None
            stack.stop_checked()
