#!/usr/bin/env python3
"""fake_daytona.py -- a stand-in for the Daytona API and its toolbox proxy.

Follows the routes, fields and states of the current Daytona API (the
generated clients @daytonaio/api-client and @daytonaio/toolbox-api-client)
closely enough for Omni's client to be tested against it:

  API (base http://127.0.0.1:PORT/api), bearer key required
    POST   /sandbox                          create -> Sandbox, 409 on a taken name
    GET    /sandbox?labels=&name=&id=&limit=&states=   -> {items, nextCursor}
    GET    /sandbox/{idOrName}               -> Sandbox, 404 if none or destroyed
    POST   /sandbox/{idOrName}/start|stop    -> Sandbox (409 mid-transition)
    DELETE /sandbox/{idOrName}               -> Sandbox; the name is freed at once
    POST   /sandbox/{idOrName}/autostop/{n}
    GET    /sandbox/{id}/toolbox-proxy-url   -> {url}
  toolbox (base {url}/{sandboxId}), bearer key required, sandbox started
    POST   /process/execute   {command,cwd,timeout} -> {exitCode,result};
                              408 when the timeout kills it.  Like the real
                              daemon, the command is split at spaces (quotes
                              group words, no escapes) and executed without a
                              shell, and there is no environment field.  Nothing
                              real runs here (session commands do, below):
                              `sh -c SCRIPT` is understood for
                              scripts of "export K='v'" lines and one simple
                              command, and for Omni's wrapper
                              sh -c 'eval "$(echo B64 | base64 -d)"'; a few
                              commands are emulated (echo, true, false, exit,
                              sleep, cat, pwd, printenv, ls, and on the
                              in-memory files `mv [-f] [--] SRC DST` of one
                              file and `rm [-f] [--] PATH...`), others come
                              from /__control/exec rules (matched on the
                              script), the rest exit 127.
    POST   /files/upload?path=     multipart, part "file"
    GET    /files/download?path=   raw bytes
    GET    /files?path=            [FileInfo]
    POST   /process/session              {sessionId} -> 201; 409 "session
                                         already exists"
    GET    /process/session              [Session]
    GET    /process/session/{S}          {sessionId, commands: [{id, command,
                                         exitCode}]}, 404 if none; exitCode
                                         is absent while the command runs
    POST   /process/session/{S}/exec     {command, runAsync|async: true}
                                         -> 202 {cmdId}; 429 past the limits
    GET    /process/session/{S}/command/{C}  {id, command, exitCode}
    DELETE /process/session/{S}          kills its commands (SIGKILL to
                                         each one's process group)

Session commands REALLY RUN, on the host: `/bin/sh -c COMMAND` as a
subprocess in its own process group, with HOME and cwd set to a temporary
directory that holds the sandbox's files ("/home/daytona" of the fake's
path model; files outside it are not there).  This is a test fake: in the
tests nothing user-provided reaches it except through the agent, which is
Omni's own example script.  The directory is made from the in-memory files
before a sandbox's first command starts, merged back (created, changed and
deleted files, three-way, so the files API and several commands can work
at once) when each command ends -- exitCode appears only after that -- and
by the files API before it reads and after it writes while the directory
exists; it is removed when the sandbox's last command ends.  Nothing is
written through a symlink a command made.  Bounds (/__control/config):
session_max running commands per sandbox (4), session_max_total in all
(16), session_timeout seconds each (120, then killed).  Stopping, deleting
or resetting a sandbox kills its commands; so do SIGTERM, /__control/
shutdown and --max-lifetime, which also remove the directories.  Command
output is discarded (Omni's commands redirect their own).

--snapshot-dir NAME=DIR stands for a snapshot image: a sandbox created with
"snapshot": NAME starts with DIR's files in its home.

States move creating -> started after --create-delay seconds, starting ->
started, stopping -> stopped, destroying -> destroyed after their delays.
Like the real API, create and start wait for "started" up to --create-wait
seconds before answering (0: answer at once).

Control API (no auth), for tests:
  GET  /__control/health
  POST /__control/keys/add      {"key": K, "name": N}
  POST /__control/keys/revoke   {"key": K} or {"name": N}
  POST /__control/faults        {"kind": "status"|"drop"|"drop_after"|"latency",
                                 "status": 429, "count": 1, "match": regex on
                                 "METHOD /path", "retry_after": s,
                                 "throttler": "sandbox-create", "message": "...",
                                 "latency_ms": 500}
                                "drop" closes the connection before the
                                request is served; "drop_after" serves it
                                (the sandbox is created...) and then closes
                                instead of answering: a lost answer.
  DELETE /__control/faults
  POST /__control/config        {"create_delay", "start_delay", "stop_delay",
                                 "delete_delay", "create_wait",
                                 "max_sandboxes", "session_max",
                                 "session_max_total", "session_timeout"}
  POST /__control/sandboxes/{idOrName}/state  {"state": "error"|"stopped"|...,
                                 "errorReason": "..."}
  GET  /__control/sandboxes
  POST /__control/exec          {"match": regex, "exitCode": n, "result": s,
                                 "sleep": s}
  GET  /__control/sessions      {commands: [{sandboxId, sessionId, cmdId,
                                 command, pid, running, exitCode}], roots:
                                 [directories that exist]}
  GET  /__control/log           [{seq, method, path, query, status, key, org,
                                 fault, toolbox, body}]; session calls too,
                                 e.g. POST /toolbox/<id>/process/session/
                                 <S>/exec with the command in its body
  POST /__control/log/reset
  POST /__control/reset         sandboxes, faults, rules, log, config
  POST /__control/shutdown

Keys are never echoed: the log names the key ("primary", ...), not its value.
The server prints "PORT=<n>" on stdout once listening and stops by itself
after --max-lifetime seconds.
"""

import argparse
import base64
import binascii
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_CONFIG = {
    "create_delay": 0.3,
    "start_delay": 0.3,
    "stop_delay": 0.2,
    "delete_delay": 0.2,
    "create_wait": 0.0,
    "max_sandboxes": 0,
    "session_max": 4,          # running session commands per sandbox
    "session_max_total": 16,   # and in all
    "session_timeout": 120.0,  # seconds a session command may run
}

STATUS_TEXT = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    408: "Request Timeout", 409: "Conflict", 413: "Payload Too Large",
    422: "Unprocessable Entity", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}

# States in which start is accepted (as the API's sandbox service does).
STARTABLE = ("stopped", "archived", "archiving", "paused")


def now_iso(t=None):
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.") + "%03dZ" % int((t % 1) * 1000)


class ApiError(Exception):
    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class State:
    """Everything the fake knows, behind one lock."""

    def __init__(self, keys, target, port):
        self.lock = threading.RLock()  # send() logs under it too
        self.keys = dict(keys)          # key value -> name
        self.target = target
        self.port = port
        self.sessions = Sessions(self)
        self.sandboxes = {}
        self.snapshots = {}             # snapshot name -> directory
        self.reset()

    def seed(self, sb):
        """A new sandbox of a --snapshot-dir snapshot starts with that
        directory's files in its home, as an image would put them."""
        root = self.snapshots.get(sb["snapshot"])
        if root is None:
            return
        for dirpath, dirnames, filenames in os.walk(root):
            rel = os.path.relpath(dirpath, root)
            if rel != ".":
                sb["_dirs"].add(os.path.normpath(rel))
            for name in filenames:
                path = os.path.join(dirpath, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    rp = os.path.normpath(os.path.join(rel, name))
                    with open(path, "rb") as f:
                        sb["_files"][rp] = f.read()
                    touch(sb, rp)

    def reset(self):
        with self.lock:
            # The commands of forgotten sandboxes must not run on: their
            # threads still merge and clean up after them.
            for sb in self.sandboxes.values():
                self.sessions.kill_sandbox(sb)
        self.sandboxes = {}             # id -> record
        self.faults = []
        self.exec_rules = []
        self.log = []
        self.seq = 0
        self.config = dict(DEFAULT_CONFIG)

    # ---- sandbox lifecycle ----------------------------------------------

    def advance(self, sb, now=None):
        """Apply a due transition of 'sb'."""
        now = time.time() if now is None else now
        tr = sb.get("_transition")
        if tr is not None and now >= tr[1]:
            sb["state"] = tr[0]
            sb["updatedAt"] = now_iso(now)
            sb["_transition"] = None

    def advance_all(self):
        now = time.time()
        for sb in list(self.sandboxes.values()):
            self.advance(sb, now)

    def live(self):
        return [s for s in self.sandboxes.values() if s["state"] != "destroyed"]

    def find(self, id_or_name):
        """By id first, then by name; None if missing or destroyed."""
        self.advance_all()
        sb = self.sandboxes.get(id_or_name)
        if sb is None:
            for s in self.sandboxes.values():
                if s["name"] == id_or_name and s["state"] != "destroyed":
                    sb = s
                    break
        if sb is None or sb["state"] == "destroyed":
            return None
        if sb["state"] in ("error", "build_failed") and sb["desiredState"] == "destroyed":
            return None
        return sb

    def get_or_404(self, id_or_name):
        sb = self.find(id_or_name)
        if sb is None:
            raise ApiError(404, "Sandbox with ID or name %s not found" % id_or_name)
        return sb

    def schedule(self, sb, state, final, delay):
        sb["state"] = state
        sb["updatedAt"] = now_iso()
        sb["_transition"] = (final, time.time() + max(0.0, float(delay)))

    def toolbox_url(self):
        return "http://127.0.0.1:%d/toolbox" % self.port

    def dto(self, sb):
        out = {k: v for k, v in sb.items() if not k.startswith("_")}
        out["toolboxProxyUrl"] = self.toolbox_url()
        return out


def touch(sb, path):
    """The file's modification time: when its content last changed."""
    sb.setdefault("_mtime", {})[path] = time.time()


def forget(sb, path):
    """A file that is gone keeps no time (a fake that runs for hours must
    not grow with every temporary name it has seen)."""
    sb.get("_mtime", {}).pop(path, None)


def daemon_split(command):
    """Split a command as the toolbox daemon does: spaces separate words,
    ' or " group them (the other quote is literal inside), no escapes, and
    an empty word is dropped."""
    args, cur, quote = [], [], None
    for ch in command:
        if ch in "'\"" and (quote is None or quote == ch):
            quote = None if quote else ch
        elif ch == " " and quote is None:
            if cur:
                args.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if cur:
        args.append("".join(cur))
    return args


WRAPPER = re.compile(r'^eval "\$\(echo ([A-Za-z0-9+/=]+) \| base64 -d\)"$')


def unwrap(argv):
    """The shell script an exec'd argv runs, or None when it is not a
    shell: Omni's base64 wrapper is decoded, a plain sh -c taken as is."""
    if len(argv) == 3 and argv[0] in ("sh", "/bin/sh", "bash") and argv[1] == "-c":
        m = WRAPPER.match(argv[2])
        if m is None:
            return argv[2]
        try:
            return base64.b64decode(m.group(1), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


def parse_multipart(body, content_type):
    """The bytes of the part named "file" of a multipart/form-data body."""
    m = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not m:
        raise ApiError(400, "request Content-Type isn't multipart/form-data")
    boundary = b"--" + m.group(1).encode()
    for part in body.split(boundary)[1:]:
        if part.startswith(b"--"):
            break
        if part.startswith(b"\r\n"):
            part = part[2:]
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        if data.endswith(b"\r\n"):
            data = data[:-2]
        if re.search(rb'name="file"', head):
            return data
    raise ApiError(400, "http: no such file")


# ---- sessions: real commands over the sandbox's files ----------------------

# A file bigger than this is not copied back from a command's directory.
SYNC_FILE_MAX = 64 * 1024 * 1024


def home_rel(p):
    """Is 'p' (a key of the fake's path model) under the home, so that it
    has a place in a materialised directory?"""
    return bool(p) and p != "." and not p.startswith("/") and \
        p != ".." and not p.startswith("../")


def safe_dir(root, rel, create):
    """The real directory for 'rel' under 'root', made when 'create', or
    None when a component is a symlink or not a directory: a command may
    have planted a link, and nothing is written through one."""
    p = root
    for comp in [c for c in rel.split("/") if c and c != "."]:
        p = os.path.join(p, comp)
        if os.path.islink(p):
            return None
        if not os.path.exists(p):
            if not create:
                return None
            os.mkdir(p)
        elif not os.path.isdir(p):
            return None
    return p


def disk_write(root, rel, data):
    parent = safe_dir(root, os.path.dirname(rel), True)
    if parent is None:
        return False
    full = os.path.join(parent, os.path.basename(rel))
    if os.path.islink(full) or os.path.isdir(full):
        return False
    fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return True


def disk_remove(root, rel):
    parent = safe_dir(root, os.path.dirname(rel), False)
    if parent is None:
        return
    full = os.path.join(parent, os.path.basename(rel))
    if os.path.islink(full) or os.path.isfile(full):
        os.unlink(full)


def disk_scan(root):
    """The regular files (path -> bytes) and directories under 'root',
    by relative path; symlinks and special files are left out."""
    files, dirs = {}, set()
    for top, dnames, fnames in os.walk(root, followlinks=False):
        rel_top = os.path.relpath(top, root)
        for d in dnames:
            full = os.path.join(top, d)
            if not os.path.islink(full):
                dirs.add(os.path.normpath(os.path.join(rel_top, d)))
        for n in fnames:
            full = os.path.join(top, n)
            try:
                st = os.lstat(full)
                if not stat.S_ISREG(st.st_mode) or st.st_size > SYNC_FILE_MAX:
                    continue
                with open(full, "rb") as f:
                    files[os.path.normpath(os.path.join(rel_top, n))] = f.read()
            except OSError:
                continue  # gone while we looked: a running command's
    return files, dirs


class Sessions:
    """Toolbox sessions of the fake: each command is `/bin/sh -c COMMAND`,
    a real process in its own process group, run with HOME and cwd set to
    a temporary directory that holds the sandbox's files.

    The directory exists while a command of the sandbox runs: made from
    the in-memory files (sb["_files"], sb["_dirs"]) before the first one
    starts, merged back when each one ends, and removed after the last.
    Merging is three-way against sb["_base_*"] (what both sides held at
    the last merge), so the files API and several commands can change
    files at the same time: a change on one side is carried to the other,
    and when both changed a path the directory wins (the command's write
    is the later one).  The files API merges before it reads and after it
    writes while the directory exists.

    All of it is under the State's lock; a thread per command waits for
    it, merges, and only then gives the command its exit code."""

    def __init__(self, state):
        self.st = state
        self.procs = set()   # every live Popen, for shutdown
        self.roots = set()   # every materialised directory

    # ---- the directory ---------------------------------------------------

    def sync(self, sb):
        root = sb.get("_root")
        if root is None:
            return
        disk_files, disk_dirs = disk_scan(root)
        mem, base = sb["_files"], sb["_base_files"]
        for p in set(mem) | set(disk_files) | set(base):
            if not home_rel(p):
                continue
            m, d, b = mem.get(p), disk_files.get(p), base.get(p)
            if m == d:
                new = m
            elif d == b:  # changed in memory only: upload, emulated mv
                if m is None:
                    disk_remove(root, p)
                else:
                    disk_write(root, p, m)
                new = m
            else:  # changed by a command
                if d is None:
                    mem.pop(p, None)
                    forget(sb, p)
                else:
                    mem[p] = d
                    touch(sb, p)
                new = d
            if new is None:
                base.pop(p, None)
            else:
                base[p] = new
        mdirs, bdirs = sb["_dirs"], sb["_base_dirs"]
        for p in (mdirs | disk_dirs | bdirs):
            if not home_rel(p):
                continue
            m, d, b = p in mdirs, p in disk_dirs, p in bdirs
            if m != d and d == b:
                if m:
                    safe_dir(root, p, True)
                new = m  # nothing drops a directory from memory alone
            else:
                if d:
                    mdirs.add(p)
                else:
                    mdirs.discard(p)
                new = d
            if new:
                bdirs.add(p)
            else:
                bdirs.discard(p)

    def materialise(self, sb):
        if sb.get("_root") is not None:
            self.sync(sb)
            return
        sb["_root"] = tempfile.mkdtemp(prefix="fake-daytona-home-")
        sb["_base_files"], sb["_base_dirs"] = {}, set()
        self.roots.add(sb["_root"])
        self.sync(sb)

    def drop_root(self, sb):
        root = sb.get("_root")
        if root is not None:
            sb["_root"] = None
            sb["_base_files"], sb["_base_dirs"] = {}, set()
            self.roots.discard(root)
            shutil.rmtree(root, ignore_errors=True)

    # ---- commands --------------------------------------------------------

    def start(self, sb, sess, command):
        cfg = self.st.config
        if len(sb["_active"]) >= int(cfg["session_max"]) or \
                len(self.procs) >= int(cfg["session_max_total"]):
            raise ApiError(429, "too many running session commands "
                           "(a limit of the fake)")
        self.materialise(sb)
        root = sb["_root"]
        env = {"HOME": root, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "LANG": "C.UTF-8"}
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", command], cwd=root, env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            if not sb["_active"]:
                self.drop_root(sb)
            raise ApiError(500, "cannot start the command: %s" % e)
        cmd = {"id": str(uuid.uuid4()), "command": command, "exitCode": None,
               "_proc": proc, "_session": sess["sessionId"]}
        sess["commands"].append(cmd)
        sb["_active"][cmd["id"]] = cmd
        sb["_cmds"].append(cmd)
        self.procs.add(proc)
        threading.Thread(target=self.wait, args=(sb, cmd, proc),
                         daemon=True).start()
        return cmd

    def wait(self, sb, cmd, proc):
        """Until the command ends (or its time is up: killed), then
        merge its files back and, after that, publish its exit code."""
        deadline = time.time() + float(self.st.config["session_timeout"])
        while True:
            try:
                # Without reaping: the group id stays reserved while we
                # kill what the command left behind.
                info = os.waitid(os.P_PID, proc.pid, os.WEXITED |
                                 os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = True
            if info is not None or time.time() >= deadline:
                break
            time.sleep(0.02)
        kill_group(proc)
        code = proc.wait()
        if code < 0:
            code = 128 - code
        with self.st.lock:
            self.procs.discard(proc)
            self.sync(sb)
            cmd["exitCode"] = code
            cmd["_proc"] = None
            sb["_active"].pop(cmd["id"], None)
            if not sb["_active"]:
                self.drop_root(sb)

    def kill_session(self, sb, sess):
        for cmd in sess["commands"]:
            if cmd["_proc"] is not None:
                kill_group(cmd["_proc"])

    def kill_sandbox(self, sb):
        """The sandbox stops or goes: its processes die, its sessions
        are forgotten (the daemon keeps them in memory)."""
        for sess in sb["_sessions"].values():
            self.kill_session(sb, sess)
        sb["_sessions"] = {}

    def shutdown(self):
        """Kill every command and remove every directory: the fake ends."""
        with self.st.lock:
            procs = list(self.procs)
            roots = list(self.roots)
        for proc in procs:
            kill_group(proc)
        for proc in procs:
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)

    def describe(self):
        out = {"commands": [], "roots": sorted(self.roots)}
        for sb in self.st.sandboxes.values():
            for cmd in sb["_cmds"]:
                proc = cmd["_proc"]
                out["commands"].append({
                    "sandboxId": sb["id"], "sessionId": cmd["_session"],
                    "cmdId": cmd["id"], "command": cmd["command"],
                    "pid": proc.pid if proc is not None else None,
                    "running": proc is not None,
                    "exitCode": cmd["exitCode"]})
        return out


def kill_group(proc):
    """SIGKILL the process group of a command not yet reaped (its id is
    still reserved, so it can only be ours)."""
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def command_dto(cmd):
    out = {"id": cmd["id"], "command": cmd["command"]}
    if cmd["exitCode"] is not None:
        out["exitCode"] = cmd["exitCode"]
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-daytona/1"

    def log_message(self, fmt, *args):  # quiet: tests read /__control/log
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in two writes: without this, Nagle and
        # the client's delayed ACK add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # ---- plumbing --------------------------------------------------------

    @property
    def st(self):
        return self.server.state

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 64 * 1024 * 1024:
            raise ApiError(413, "request body too large")
        return self.rfile.read(n) if n > 0 else b""

    def hang_up(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def commit_log(self, status):
        """Log the call before its answer leaves: a client that reads the
        log right after the answer must find the call in it."""
        entry = getattr(self, "entry", None)
        if entry is not None:
            self.entry = None
            entry["status"] = status
            self.record(entry)

    def send(self, status, payload=None, headers=None, raw=None, ctype=None):
        if getattr(self, "drop_reply", False):
            self.commit_log(0)
            self.hang_up()
            self.status_sent = 0
            return
        self.commit_log(status)
        if raw is not None:
            data = raw
            ctype = ctype or "application/octet-stream"
        elif payload is None:
            data = b""
        else:
            data = json.dumps(payload).encode()
            ctype = ctype or "application/json; charset=utf-8"
        self.send_response(status, STATUS_TEXT.get(status))
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if data:
            self.wfile.write(data)
        self.status_sent = status

    def send_error_json(self, status, message, headers=None):
        self.send(status, {
            "path": self.path, "timestamp": now_iso(), "statusCode": status,
            "error": STATUS_TEXT.get(status, "Error"), "message": message,
        }, headers=headers)

    def record(self, entry):
        with self.st.lock:
            self.st.seq += 1
            entry["seq"] = self.st.seq
            entry["t"] = time.time()
            self.st.log.append(entry)
            if len(self.st.log) > 10000:
                del self.st.log[:1000]

    def take_fault(self, route):
        with self.st.lock:
            for f in self.st.faults:
                if f["count"] <= 0:
                    continue
                if f.get("match") and not re.search(f["match"], route):
                    continue
                f["count"] -= 1
                return dict(f)
        return None

    # ---- dispatch --------------------------------------------------------

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        self.status_sent = 0
        self.drop_reply = False
        self.entry = None
        try:
            body = self.read_body()
        except (ValueError, ApiError):
            self.send_error_json(400, "bad request body")
            return
        if path.startswith("/__control/"):
            try:
                self.control(method, path, query, body)
            except ApiError as e:
                self.send_error_json(e.status, e.message)
            except Exception as e:  # a bug in a test's request
                self.send_error_json(400, "control: %s" % e)
            return
        route = "%s %s" % (method, path)
        entry = {
            "method": method, "path": path, "query": url.query,
            "status": None, "key": None, "fault": None,
            "org": self.headers.get("X-Daytona-Organization-ID"),
            "toolbox": path.startswith("/toolbox/"), "body": None,
        }
        if body and not path.endswith("/files/upload"):
            try:
                entry["body"] = json.loads(body)
            except ValueError:
                entry["body"] = None
        self.entry = entry
        try:
            self.serve(method, path, query, body, route, entry)
        finally:
            self.commit_log(self.status_sent)

    def authenticate(self, entry):
        auth = self.headers.get("Authorization") or ""
        key = auth[7:] if auth.startswith("Bearer ") else None
        with self.st.lock:
            name = self.st.keys.get(key) if key else None
        entry["key"] = name if name else ("unknown" if key else None)
        if name is None:
            raise ApiError(401, "Invalid credentials")

    def serve(self, method, path, query, body, route, entry):
        fault = self.take_fault(route)
        if fault is not None:
            entry["fault"] = fault["kind"] if fault["kind"] != "status" else fault["status"]
            if fault["kind"] == "latency":
                time.sleep(fault.get("latency_ms", 0) / 1000.0)
            elif fault["kind"] == "drop":
                # Close without a word: the client sees an empty reply.
                self.commit_log(0)
                self.hang_up()
                self.status_sent = 0
                return
            elif fault["kind"] == "drop_after":
                self.drop_reply = True
            elif fault["kind"] == "status":
                # The throttler and auth run before any handler: like the
                # real API, nothing happened.
                status = int(fault["status"])
                headers = {}
                if "retry_after" in fault:
                    name = fault.get("throttler")
                    hname = "Retry-After-%s" % name if name else "Retry-After"
                    headers[hname] = str(fault["retry_after"])
                    if name:
                        headers["X-RateLimit-Limit-%s" % name] = "10"
                        headers["X-RateLimit-Remaining-%s" % name] = "0"
                        headers["X-RateLimit-Reset-%s" % name] = str(fault["retry_after"])
                self.send_error_json(status, fault.get("message") or
                                     STATUS_TEXT.get(status, "Error"), headers)
                return
        try:
            self.authenticate(entry)
            if path.startswith("/api/"):
                self.api(method, path[4:], query, body)
            elif path.startswith("/toolbox/"):
                self.toolbox(method, path[len("/toolbox/"):], query, body)
            else:
                raise ApiError(404, "Cannot %s %s" % (method, path))
        except ApiError as e:
            self.send_error_json(e.status, e.message, e.headers)

    # ---- the API ---------------------------------------------------------

    def api(self, method, path, query, body):
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        if not parts or parts[0] != "sandbox":
            raise ApiError(404, "Cannot %s %s" % (method, path))
        if len(parts) == 1:
            if method == "POST":
                return self.create(body)
            if method == "GET":
                return self.list(query)
        elif len(parts) == 2:
            if method == "GET":
                with self.st.lock:
                    return self.send(200, self.st.dto(self.st.get_or_404(parts[1])))
            if method == "DELETE":
                return self.delete(parts[1])
        elif len(parts) == 3 and method == "POST" and parts[2] in ("start", "stop"):
            return self.start(parts[1]) if parts[2] == "start" else self.stop(parts[1])
        elif len(parts) == 3 and method == "GET" and parts[2] == "toolbox-proxy-url":
            with self.st.lock:
                self.st.get_or_404(parts[1])
                return self.send(200, {"url": self.st.toolbox_url()})
        elif len(parts) == 4 and method == "POST" and parts[2] == "autostop":
            with self.st.lock:
                sb = self.st.get_or_404(parts[1])
                try:
                    sb["autoStopInterval"] = int(parts[3])
                except ValueError:
                    raise ApiError(400, "interval must be a number")
                return self.send(200, None)
        raise ApiError(404, "Cannot %s /api%s" % (method, path))

    def create(self, body):
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            raise ApiError(400, "Unexpected token in JSON")
        if not isinstance(req, dict):
            raise ApiError(400, "body must be an object")
        for field in ("env", "labels"):
            v = req.get(field, {})
            if not isinstance(v, dict) or not all(
                    isinstance(k, str) and isinstance(x, str) for k, x in v.items()):
                raise ApiError(400, "%s must be an object of strings" % field)
        for field in ("autoStopInterval", "autoArchiveInterval", "autoDeleteInterval"):
            if field in req and not isinstance(req[field], int):
                raise ApiError(400, "%s must be an integer number" % field)
        name = req.get("name")
        if name is not None and (not isinstance(name, str) or not name):
            raise ApiError(400, "name must be a string")
        with self.st.lock:
            self.st.advance_all()
            cfg = self.st.config
            if cfg["max_sandboxes"] and len(self.st.live()) >= cfg["max_sandboxes"]:
                raise ApiError(400, "Total CPU limit exceeded. Maximum allowed: %d." %
                               cfg["max_sandboxes"])
            if name is not None and any(s["name"] == name for s in self.st.live()):
                raise ApiError(409, "Sandbox with name %s already exists" % name)
            sid = str(uuid.uuid4())
            t = now_iso()
            sb = {
                "id": sid, "organizationId": "fake-org", "name": name or sid,
                "snapshot": req.get("snapshot") or "daytona-small",
                "user": "daytona", "env": req.get("env", {}),
                "labels": req.get("labels", {}), "public": False,
                "networkBlockAll": False, "kvm": False,
                "target": req.get("target") or self.st.target,
                "cpu": 1, "gpu": 0, "memory": 1, "disk": 3,
                "state": "creating", "desiredState": "started",
                "errorReason": None, "recoverable": False,
                "autoStopInterval": req.get("autoStopInterval", 15),
                "autoArchiveInterval": req.get("autoArchiveInterval", 10080),
                "autoDeleteInterval": req.get("autoDeleteInterval", -1),
                "createdAt": t, "updatedAt": t, "runnerId": "fake-runner",
                "daemonVersion": "fake", "sandboxClass": "container",
                "_files": {}, "_dirs": set(["."]),
                "_sessions": {}, "_active": {}, "_cmds": [], "_root": None,
                "_base_files": {}, "_base_dirs": set(),
            }
            self.st.seed(sb)
            self.st.sandboxes[sid] = sb
            self.st.schedule(sb, "creating", "started", cfg["create_delay"])
            wait = cfg["create_wait"]
        self.wait_started(sid, wait)
        with self.st.lock:
            self.send(200, self.st.dto(sb))

    def wait_started(self, sid, wait):
        """The API waits for "started" before answering a create or start."""
        end = time.time() + float(wait)
        while time.time() < end:
            with self.st.lock:
                sb = self.st.sandboxes.get(sid)
                self.st.advance(sb)
                if sb["state"] != "creating" and sb["state"] != "starting":
                    return
            time.sleep(0.02)

    def list(self, query):
        labels = {}
        if "labels" in query:
            try:
                labels = json.loads(query["labels"][0])
            except ValueError:
                raise ApiError(400, "Invalid labels JSON format")
            if not isinstance(labels, dict):
                raise ApiError(400, "Invalid labels JSON format")
        try:
            limit = int(query.get("limit", ["100"])[0])
        except ValueError:
            raise ApiError(400, "limit must be an integer")
        if limit < 1 or limit > 200:
            raise ApiError(400, "limit must not be greater than 200")
        states = set()
        for s in query.get("states", []):
            states.update(x for x in s.split(",") if x)
        name = query.get("name", [None])[0]
        sid = query.get("id", [None])[0]
        with self.st.lock:
            self.st.advance_all()
            items = []
            for sb in sorted(self.st.sandboxes.values(), key=lambda s: s["createdAt"]):
                if sb["state"] == "destroyed":
                    continue
                if any(sb["labels"].get(k) != v for k, v in labels.items()):
                    continue
                if name and not sb["name"].lower().startswith(name.lower()):
                    continue
                if sid and not sb["id"].lower().startswith(sid.lower()):
                    continue
                if states and sb["state"] not in states:
                    continue
                item = self.st.dto(sb)
                item.pop("env", None)
                items.append(item)
            self.send(200, {"items": items[:limit], "nextCursor": None})

    def start(self, id_or_name):
        with self.st.lock:
            sb = self.st.get_or_404(id_or_name)
            if sb["state"] == "started" and sb["desiredState"] == "started":
                return self.send(200, self.st.dto(sb))
            if sb["state"] in ("error", "build_failed"):
                raise ApiError(400, "Sandbox is in an errored state")
            if sb["_transition"] is not None or sb["state"] != sb["desiredState"]:
                raise ApiError(409, "Sandbox state change in progress")
            if sb["state"] not in STARTABLE:
                raise ApiError(400, "Sandbox is not in valid state")
            sb["desiredState"] = "started"
            self.st.schedule(sb, "starting", "started", self.st.config["start_delay"])
            sid, wait = sb["id"], self.st.config["create_wait"]
        self.wait_started(sid, wait)
        with self.st.lock:
            self.send(200, self.st.dto(self.st.sandboxes[sid]))

    def stop(self, id_or_name):
        with self.st.lock:
            sb = self.st.get_or_404(id_or_name)
            if sb["state"] in ("error", "build_failed"):
                raise ApiError(400, "Sandbox is in an errored state")
            if sb["_transition"] is not None or sb["state"] != sb["desiredState"]:
                raise ApiError(409, "Sandbox state change in progress")
            if sb["state"] not in ("started", "paused"):
                raise ApiError(400, "Sandbox is not in a stoppable state")
            sb["desiredState"] = "stopped"
            self.st.sessions.kill_sandbox(sb)
            self.st.schedule(sb, "stopping", "stopped", self.st.config["stop_delay"])
            self.send(200, self.st.dto(sb))

    def delete(self, id_or_name):
        with self.st.lock:
            sb = self.st.get_or_404(id_or_name)
            # Pending (any transition, creation included) refuses, as the
            # API's destroy does.
            if sb["_transition"] is not None:
                raise ApiError(409, "Sandbox state change in progress")
            # Soft delete: the name is released at once, as the API does.
            sb["name"] = "%s-deleted-%d" % (sb["name"], int(time.time() * 1000))
            sb["desiredState"] = "destroyed"
            self.st.sessions.kill_sandbox(sb)
            self.st.schedule(sb, "destroying", "destroyed", self.st.config["delete_delay"])
            self.send(200, self.st.dto(sb))

    # ---- the toolbox -----------------------------------------------------

    def toolbox(self, method, rest, query, body):
        sid, _, op = rest.partition("/")
        sid = urllib.parse.unquote(sid)
        with self.st.lock:
            sb = self.st.find(sid)
            if sb is None or sb["id"] != sid:
                raise ApiError(404, "sandbox not found")
            if sb["state"] != "started":
                raise ApiError(409, "sandbox is not started")
        if method == "POST" and op == "process/execute":
            return self.execute(sb, body)
        if op.startswith("files"):
            return self.files(sb, method, op, query, body)
        if op == "process/session" or op.startswith("process/session/"):
            return self.session(sb, method, op, body)
        raise ApiError(404, "404 page not found")

    # ---- sessions ----------------------------------------------------------

    def session(self, sb, method, op, body):
        rest = [urllib.parse.unquote(x) for x in op.split("/")[2:]]
        try:
            req = json.loads(body) if body else {}
        except ValueError:
            raise ApiError(400, "invalid request body")
        if not isinstance(req, dict):
            raise ApiError(400, "invalid request body")
        with self.st.lock:
            if not rest and method == "POST":
                return self.session_create(sb, req)
            if not rest and method == "GET":
                return self.send(200, [self.session_dto(x) for x in
                                       sb["_sessions"].values()])
            sess = sb["_sessions"].get(rest[0]) if rest else None
            if sess is None:
                raise ApiError(404, "session not found")
            if len(rest) == 1 and method == "GET":
                return self.send(200, self.session_dto(sess))
            if len(rest) == 1 and method == "DELETE":
                # The daemon kills the session's processes with it.
                self.st.sessions.kill_session(sb, sess)
                del sb["_sessions"][rest[0]]
                return self.send(200, None)
            if len(rest) == 2 and rest[1] == "exec" and method == "POST":
                return self.session_exec(sb, sess, req)
            if len(rest) == 3 and rest[1] == "command" and method == "GET":
                for cmd in sess["commands"]:
                    if cmd["id"] == rest[2]:
                        return self.send(200, command_dto(cmd))
                raise ApiError(404, "command not found")
        raise ApiError(404, "404 page not found")

    @staticmethod
    def session_dto(sess):
        return {"sessionId": sess["sessionId"],
                "commands": [command_dto(c) for c in sess["commands"]]}

    def session_create(self, sb, req):
        sid = req.get("sessionId")
        if not isinstance(sid, str) or not sid or "/" in sid:
            raise ApiError(400, "sessionId is required")
        if sid in sb["_sessions"]:
            raise ApiError(409, "session already exists")
        sb["_sessions"][sid] = {"sessionId": sid, "commands": []}
        self.send(201, None)

    def session_exec(self, sb, sess, req):
        command = req.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ApiError(400, "command is required")
        if not (req.get("runAsync") or req.get("async")):
            # Omni only runs background commands; the fake need not wait.
            raise ApiError(400, "the fake runs session commands "
                           "asynchronously only")
        cmd = self.st.sessions.start(sb, sess, command)
        self.send(202, {"cmdId": cmd["id"]})

    def norm(self, path, cwd="."):
        if not path:
            raise ApiError(400, "path is required")
        home = "/home/daytona"
        if path.startswith(home + "/"):
            path = path[len(home) + 1:]
        elif path == home:
            path = "."
        elif path.startswith("/"):
            path = path  # outside the home: kept as it is
        elif cwd not in (".", ""):
            path = cwd.rstrip("/") + "/" + path
        return os.path.normpath(path)

    def files(self, sb, method, op, query, body):
        path = query.get("path", [""])[0]
        with self.st.lock:
            self.st.sessions.sync(sb)  # what running commands wrote
        if op == "files/upload" and method == "POST":
            data = parse_multipart(body, self.headers.get("Content-Type"))
            p = self.norm(path)
            with self.st.lock:
                sb["_files"][p] = data
                touch(sb, p)
                d = os.path.dirname(p)
                while d not in ("", "."):
                    sb["_dirs"].add(d)
                    d = os.path.dirname(d)
                self.st.sessions.sync(sb)  # for running commands to see
            return self.send(200, None)
        if op == "files/download" and method == "GET":
            p = self.norm(path)
            with self.st.lock:
                if p in sb["_dirs"]:
                    raise ApiError(400, "path must be a file")
                data = sb["_files"].get(p)
            if data is None:
                raise ApiError(404, "open %s: no such file or directory" % path)
            return self.send(200, raw=data)
        if op == "files" and method == "GET":
            p = self.norm(path or ".")
            with self.st.lock:
                if p != "." and p not in sb["_dirs"]:
                    raise ApiError(404, "open %s: no such file or directory" % path)
                entries = {}
                prefix = "" if p == "." else p + "/"
                for f, data in sb["_files"].items():
                    if f.startswith(prefix) and "/" not in f[len(prefix):]:
                        entries[f[len(prefix):]] = (False, len(data))
                for d in sb["_dirs"]:
                    if d != "." and d.startswith(prefix) and "/" not in d[len(prefix):]:
                        entries[d[len(prefix):]] = (True, 4096)
            now = time.time()
            stamps = sb.get("_mtime", {})

            def mod_time(name):
                t = stamps.get(prefix + name, now)
                return datetime.datetime.fromtimestamp(
                    t, datetime.timezone.utc).strftime(
                    "%Y-%m-%d %H:%M:%S.%f000 +0000 UTC")
            out = [{
                "name": n, "isDir": isdir, "size": size,
                "modTime": mod_time(n),
                "mode": "drwxr-xr-x" if isdir else "-rw-r--r--",
                "permissions": "0755" if isdir else "0644",
                "owner": "daytona", "group": "daytona",
            } for n, (isdir, size) in sorted(entries.items())]
            return self.send(200, out)
        raise ApiError(404, "404 page not found")

    def execute(self, sb, body):
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            raise ApiError(400, "invalid request body")
        command = req.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ApiError(400, "command cannot be empty or whitespace-only")
        timeout = req.get("timeout") or 0
        cwd = req.get("cwd") or "."
        # No "envs": the daemon has no such field and ignores it.
        argv = daemon_split(command)
        script = unwrap(argv)
        envs = {}
        if script is not None:
            command, envs = self.script_env(script)
        elif argv and argv[0] in ("sh", "/bin/sh", "bash"):
            return self.send(200, {"exitCode": 2, "result":
                                   "sh: cannot emulate %r\n" % argv})
        else:
            command = " ".join(shlex.quote(a) for a in argv)
        with self.st.lock:
            rules = list(self.st.exec_rules)
        for rule in rules:
            if re.search(rule["match"], command):
                sleep = float(rule.get("sleep", 0))
                if timeout and sleep > timeout:
                    time.sleep(min(timeout, 30))
                    raise ApiError(408, "command execution timeout")
                time.sleep(min(sleep, 30))
                return self.send(200, {"exitCode": rule.get("exitCode", 0),
                                       "result": rule.get("result", "")})
        with self.st.lock:
            self.st.sessions.sync(sb)
            code, out, sleep = self.emulate(sb, command, cwd, envs)
            self.st.sessions.sync(sb)
        if timeout and sleep > timeout:
            time.sleep(min(timeout, 30))
            raise ApiError(408, "command execution timeout")
        time.sleep(min(sleep, 30))
        self.send(200, {"exitCode": code, "result": out})

    EXPORT = re.compile(r"export ([A-Za-z_][A-Za-z0-9_]*)='((?:[^']|'\\'')*)'\n")

    @classmethod
    def script_env(cls, script):
        """Split a script into its leading "export K='v'" lines (values
        may hold newlines and '\'' quotes) and the command after them."""
        envs = {}
        m = cls.EXPORT.match(script)
        while m is not None:
            envs[m.group(1)] = m.group(2).replace("'\\''", "'")
            script = script[m.end():]
            m = cls.EXPORT.match(script)
        return script, envs

    def emulate(self, sb, command, cwd, envs):
        """Exit code, output and run time of a few harmless commands."""
        try:
            argv = shlex.split(command)
        except ValueError:
            return 2, "sh: syntax error\n", 0
        if not argv:
            return 0, "", 0
        cmd, args = argv[0], argv[1:]
        if cmd == "echo":
            if args[:1] == ["-n"]:
                return 0, " ".join(args[1:]), 0
            return 0, " ".join(args) + "\n", 0
        if cmd == "true":
            return 0, "", 0
        if cmd == "false":
            return 1, "", 0
        if cmd == "exit":
            return int(args[0]) if args and args[0].isdigit() else 0, "", 0
        if cmd == "sleep":
            try:
                return 0, "", float(args[0]) if args else 0
            except ValueError:
                return 1, "sleep: invalid time interval\n", 0
        if cmd == "pwd":
            return 0, ("/home/daytona" if cwd in (".", "") else cwd) + "\n", 0
        if cmd == "printenv":
            if args:
                v = envs.get(args[0])
                return (0, v + "\n", 0) if v is not None else (1, "", 0)
            return 0, "".join("%s=%s\n" % kv for kv in sorted(envs.items())), 0
        if cmd == "cat":
            out = b""
            for a in args:
                with self.st.lock:
                    data = sb["_files"].get(self.norm(a, cwd))
                if data is None:
                    return 1, "cat: %s: No such file or directory\n" % a, 0
                out += data
            return 0, out.decode("utf-8", "replace"), 0
        if cmd == "mv":
            return self.emulate_mv(sb, args, cwd)
        if cmd == "rm":
            return self.emulate_rm(sb, args, cwd)
        if cmd == "ls":
            p = self.norm(args[0] if args else ".", cwd)
            prefix = "" if p == "." else p + "/"
            with self.st.lock:
                names = sorted(set(
                    f[len(prefix):].split("/")[0]
                    for f in list(sb["_files"]) + list(sb["_dirs"])
                    if f.startswith(prefix) and f != "." and f != p))
            return 0, "".join(n + "\n" for n in names), 0
        return 127, "sh: 1: %s: not found\n" % cmd, 0

    def emulate_mv(self, sb, args, cwd):
        """mv [-f] [--] SRC DST on the in-memory files (one file, as
        the provider's atomic write renames)."""
        while args and args[0] in ("-f", "--"):
            done = args[0] == "--"
            args = args[1:]
            if done:
                break
        if len(args) != 2:
            return 1, "mv: the fake moves one file to one place\n", 0
        src, dst = self.norm(args[0], cwd), self.norm(args[1], cwd)
        with self.st.lock:
            files, dirs = sb["_files"], sb["_dirs"]
            if src not in files:
                what = "Is a directory (not emulated)" if src in dirs else \
                    "No such file or directory"
                return 1, "mv: cannot stat '%s': %s\n" % (args[0], what), 0
            if dst in dirs:
                dst = os.path.join(dst, os.path.basename(src))
            parent = os.path.dirname(dst) or "."
            if dst in dirs or (parent not in dirs and not parent.startswith("/")):
                return 1, "mv: cannot move '%s' to '%s': No such file or " \
                    "directory\n" % (args[0], args[1]), 0
            files[dst] = files.pop(src)
            forget(sb, src)
            touch(sb, dst)
        return 0, "", 0

    def emulate_rm(self, sb, args, cwd):
        """rm -f [--] PATH... on the in-memory files."""
        force = False
        while args and args[0] in ("-f", "--"):
            force = force or args[0] == "-f"
            done = args[0] == "--"
            args = args[1:]
            if done:
                break
        code, out = 0, ""
        with self.st.lock:
            for a in args:
                p = self.norm(a, cwd)
                forget(sb, p)
                if p in sb["_dirs"]:
                    code, out = 1, out + "rm: cannot remove '%s': Is a " \
                        "directory\n" % a
                elif sb["_files"].pop(p, None) is None and not force:
                    code, out = 1, out + "rm: cannot remove '%s': No such " \
                        "file or directory\n" % a
        return code, out, 0

    # ---- control ---------------------------------------------------------

    def control(self, method, path, query, body):
        req = json.loads(body) if body else {}
        st = self.st
        parts = path.strip("/").split("/")[1:]
        if parts == ["health"]:
            return self.send(200, {"ok": True})
        if parts == ["keys", "add"] and method == "POST":
            with st.lock:
                st.keys[req["key"]] = req.get("name", "key%d" % len(st.keys))
            return self.send(200, {"ok": True})
        if parts == ["keys", "revoke"] and method == "POST":
            with st.lock:
                for k, n in list(st.keys.items()):
                    if k == req.get("key") or n == req.get("name"):
                        del st.keys[k]
            return self.send(200, {"ok": True})
        if parts == ["faults"]:
            if method == "DELETE":
                with st.lock:
                    st.faults = []
                return self.send(200, {"ok": True})
            if method == "POST":
                f = dict(req)
                if f.get("kind") not in ("status", "drop", "drop_after", "latency"):
                    raise ApiError(400, "kind must be status, drop, drop_after "
                                   "or latency")
                f["count"] = int(f.get("count", 1))
                if f["kind"] == "status":
                    f["status"] = int(f["status"])
                with st.lock:
                    st.faults.append(f)
                return self.send(200, {"ok": True})
            if method == "GET":
                with st.lock:
                    return self.send(200, list(st.faults))
        if parts == ["config"] and method == "POST":
            with st.lock:
                for k, v in req.items():
                    if k not in DEFAULT_CONFIG:
                        raise ApiError(400, "unknown setting %s" % k)
                    st.config[k] = v
                return self.send(200, dict(st.config))
        if parts == ["sandboxes"] and method == "GET":
            with st.lock:
                st.advance_all()
                return self.send(200, [st.dto(s) for s in st.sandboxes.values()])
        if len(parts) == 3 and parts[0] == "sandboxes" and parts[2] == "state":
            with st.lock:
                sb = st.get_or_404(urllib.parse.unquote(parts[1]))
                state = req["state"]
                sb["state"] = state
                sb["_transition"] = None
                if state != "started":
                    st.sessions.kill_sandbox(sb)
                if state in ("stopped", "archived", "started"):
                    sb["desiredState"] = state
                elif state in ("error", "build_failed"):
                    sb["desiredState"] = "started"
                    sb["errorReason"] = req.get("errorReason", "injected error")
                return self.send(200, st.dto(sb))
        if parts == ["sessions"] and method == "GET":
            with st.lock:
                return self.send(200, st.sessions.describe())
        if parts == ["exec"] and method == "POST":
            re.compile(req["match"])
            with st.lock:
                st.exec_rules.append(req)
            return self.send(200, {"ok": True})
        if parts == ["log"] and method == "GET":
            with st.lock:
                return self.send(200, list(st.log))
        if parts == ["log", "reset"] and method == "POST":
            with st.lock:
                st.log = []
            return self.send(200, {"ok": True})
        if parts == ["reset"] and method == "POST":
            with st.lock:
                st.reset()
            return self.send(200, {"ok": True})
        if parts == ["shutdown"] and method == "POST":
            self.send(200, {"ok": True})
            threading.Thread(target=self.server.shutdown, daemon=True).start()
            return
        raise ApiError(404, "no control route %s %s" % (method, path))


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hung up (its timeout) is part of the tests.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key", action="append", default=[],
                    help="KEY[:NAME], may be repeated (default name: primary, "
                    "fallback, key2, ...)")
    ap.add_argument("--target", default="us")
    ap.add_argument("--create-delay", type=float, default=DEFAULT_CONFIG["create_delay"])
    ap.add_argument("--start-delay", type=float, default=DEFAULT_CONFIG["start_delay"])
    ap.add_argument("--create-wait", type=float, default=DEFAULT_CONFIG["create_wait"])
    ap.add_argument("--snapshot-dir", action="append", default=[],
                    metavar="NAME=DIR",
                    help="sandboxes made from snapshot NAME start with "
                    "DIR's files in their home")
    ap.add_argument("--max-lifetime", type=float, default=600.0,
                    help="stop by itself after this many seconds")
    args = ap.parse_args()
    if args.host != "127.0.0.1":
        ap.error("the fake only listens on 127.0.0.1")
    names = ["primary", "fallback"]
    keys = {}
    for i, spec in enumerate(args.key):
        k, _, n = spec.partition(":")
        keys[k] = n or (names[i] if i < len(names) else "key%d" % i)
    srv = Server((args.host, args.port), Handler)
    srv.state = State(keys, args.target, srv.server_address[1])
    for spec in args.snapshot_dir:
        name, _, root = spec.partition("=")
        if not name or not os.path.isdir(root):
            ap.error("--snapshot-dir wants NAME=DIR")
        srv.state.snapshots[name] = root
    srv.state.config.update(create_delay=args.create_delay,
                            start_delay=args.start_delay,
                            create_wait=args.create_wait)
    DEFAULT_CONFIG.update(create_delay=args.create_delay,
                          start_delay=args.start_delay,
                          create_wait=args.create_wait)
    timer = threading.Timer(args.max_lifetime, srv.shutdown)
    timer.daemon = True
    timer.start()

    def on_term(signum, frame):
        # Out of serve_forever and through the finally below, so that the
        # commands of sessions die with the fake.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    print("PORT=%d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        timer.cancel()
        srv.state.sessions.shutdown()
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
