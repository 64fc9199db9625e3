"""Sandbox API on the local provider, through real nginx (and Caddy).

The web frontend's sequence (create, then status until ready), reuse of
the user's sandbox across workers, concurrent creates for one user,
restart of a stopped sandbox and replacement of a broken one (done to the
sandbox directory from outside, as another process would), delete, and
bad inputs answered with the contract's error model.

Commands run in the sandbox through POST /debug/sandbox/exec (served only
with OMNI_DEBUG_ROUTES=1, which the harness sets): one that prints, one that
tries the network (the front server's own port on 127.0.0.1, reachable
from the host, not from the sandbox's own loopback), writes outside the
sandbox home, and one past its time limit.  tests/unit/test_sandbox_local.c
covers the same limits against bubblewrap directly.

With OMNI_AUTH=jwt (SandboxOwnerNginx) each user reaches only their own
sandbox: tokens for two users, made here with HMAC-SHA256, and every
cross access refused (403 for a userId that is not the token's subject,
404 as for an unknown id on another user's sandbox).

Only 127.0.0.1 is used; every wait is bounded.
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TIMEOUT = 20.0  # generous: the suite also runs under ASan
READY_WAIT = 10.0


def sandbox_root(stack):
    return os.path.join(stack.env["OMNI_DATA_DIR"], "sandboxes")


def assert_error(tc, resp, status, code, field=None):
    """The contract's error model, JSON, never an HTML page."""
    tc.assertEqual(resp.status, status, resp)
    tc.assertTrue(resp.header("Content-Type", "").startswith(
        "application/json"), resp)
    body = resp.json()
    tc.assertEqual(set(body), {"error"}, body)
    err = body["error"]
    tc.assertEqual(err.get("code"), code, body)
    tc.assertTrue(err.get("message"), body)
    tc.assertIsInstance(err.get("details"), dict, body)
    if field is not None:
        tc.assertEqual(err["details"].get("field"), field, body)
    return err


def rewrite_state(stack, sandbox_id, **changes):
    """Change a sandbox's state.json the way another process would:
    a complete new file renamed over the old one."""
    path = os.path.join(sandbox_root(stack), sandbox_id, "state.json")
    with open(path) as f:
        state = json.load(f)
    state.update(changes)
    tmp = path + ".test-tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.rename(tmp, path)


class SandboxApi(harness.SharedStack):
    """Mixin: the tests; subclasses set FRONT."""


    STACK_ARGS = {"workers": 2, "threads": 16,
                  "env": {"SANDBOX_PROVIDER": "local"}}

    def user(self, tag):
        # Distinct per test and per front: the stack is shared.
        return "%s-%s-%s" % (self.FRONT, self._testMethodName, tag)

    def create(self, user_id):
        return self.stack.post_json("/api/sandbox/create",
                                    {"userId": user_id}, timeout=TIMEOUT)

    def status(self, sandbox_id):
        return self.stack.get("/api/sandbox/status?id=" + sandbox_id,
                              timeout=TIMEOUT)

    def wait_ready(self, sandbox_id):
        def ready():
            r = self.status(sandbox_id)
            self.assertEqual(r.status, 200, r)
            return r.json() if r.json()["status"] == "ready" else None
        return harness.wait_until(ready, READY_WAIT, interval=0.1,
                                  what="sandbox %s ready" % sandbox_id)

    # -- the frontend's sequence --

    def test_create_then_status_until_ready(self):
        uid = self.user("a")
        r = self.create(uid)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith(
            "application/json"))
        body = r.json()
        self.assertEqual(set(body), {"sandboxId", "status", "createdAt",
                                     "userId"}, body)
        self.assertEqual(body["userId"], uid)
        self.assertIn(body["status"], ("creating", "ready"))
        self.assertRegex(body["createdAt"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        st = self.wait_ready(body["sandboxId"])
        self.assertEqual(set(st), {"sandboxId", "status", "createdAt"}, st)
        self.assertEqual(st["sandboxId"], body["sandboxId"])
        self.assertEqual(st["createdAt"], body["createdAt"])

    def test_create_reuses_the_users_sandbox_on_every_worker(self):
        uid = self.user("a")
        first = self.create(uid).json()
        # Enough requests that both workers answer some of them.
        for _ in range(6):
            again = self.create(uid)
            self.assertEqual(again.status, 200, again)
            self.assertEqual(again.json()["sandboxId"], first["sandboxId"])
            self.assertEqual(again.json()["createdAt"], first["createdAt"])
        other = self.create(self.user("b")).json()
        self.assertNotEqual(other["sandboxId"], first["sandboxId"])

    def test_concurrent_creates_end_with_one_sandbox(self):
        uid = self.user("a")
        results = harness.parallel(12, lambda i: self.create(uid),
                                   timeout=60)
        for r in results:
            self.assertIsInstance(r, harness.Response, r)
            self.assertEqual(r.status, 200, r)
        ids = {r.json()["sandboxId"] for r in results}
        stamps = {r.json()["createdAt"] for r in results}
        self.assertEqual(len(ids), 1, ids)
        self.assertEqual(len(stamps), 1, stamps)
        sid = ids.pop()
        self.assertTrue(os.path.isdir(os.path.join(sandbox_root(self.stack),
                                                   sid, "home")))
        # No half-made sandbox left behind by the losers.
        leftovers = [n for n in os.listdir(sandbox_root(self.stack))
                     if n.startswith(".new-" + sid)]
        self.assertEqual(leftovers, [])

    def test_create_restarts_a_stopped_sandbox(self):
        body = self.create(self.user("a")).json()
        sid = body["sandboxId"]
        home = os.path.join(sandbox_root(self.stack), sid, "home")
        with open(os.path.join(home, "notes.md"), "w") as f:
            f.write("kept")
        rewrite_state(self.stack, sid, state="stopped")
        self.assertEqual(self.status(sid).json()["status"], "stopped")
        again = self.create(self.user("a"))
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.json()["sandboxId"], sid)
        self.assertEqual(again.json()["status"], "ready")
        self.assertEqual(self.status(sid).json()["status"], "ready")
        with open(os.path.join(home, "notes.md")) as f:
            self.assertEqual(f.read(), "kept")

    def test_create_replaces_a_broken_sandbox(self):
        body = self.create(self.user("a")).json()
        sid = body["sandboxId"]
        root = sandbox_root(self.stack)
        with open(os.path.join(root, sid, "home", "old.md"), "w") as f:
            f.write("old")
        with open(os.path.join(root, sid, "state.json"), "w") as f:
            f.write("{broken")
        self.assertEqual(self.status(sid).json()["status"], "error")
        time.sleep(0.01)  # a visibly later createdAt
        again = self.create(self.user("a"))
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.json()["status"], "ready")
        self.assertNotEqual(again.json()["createdAt"], body["createdAt"])
        self.assertFalse(os.path.exists(os.path.join(root, sid, "home",
                                                     "old.md")))

    def test_delete(self):
        body = self.create(self.user("a")).json()
        sid = body["sandboxId"]
        r = self.stack.request("DELETE", "/api/sandbox?id=" + sid,
                               timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"sandboxId": sid, "deleted": True})
        self.assertFalse(os.path.exists(os.path.join(sandbox_root(self.stack),
                                                     sid)))
        assert_error(self, self.status(sid), 404, "SANDBOX_NOT_FOUND")
        assert_error(self, self.stack.request(
            "DELETE", "/api/sandbox?id=" + sid, timeout=TIMEOUT), 404,
            "SANDBOX_NOT_FOUND")
        # The user gets a fresh one on the next create.
        again = self.create(self.user("a")).json()
        self.assertEqual(again["sandboxId"], sid)
        self.assertNotEqual(again["createdAt"], body["createdAt"])

    # -- bad inputs --

    def test_create_bad_bodies(self):
        post = self.stack.request
        assert_error(self, post("POST", "/api/sandbox/create", body="{}",
                                headers={"Content-Type": "application/json"},
                                timeout=TIMEOUT),
                     400, "VALIDATION_ERROR", "userId")
        for bad in ({"userId": None}, {"userId": 7}, {"userId": ""},
                    {"userId": ["x"]}, {"userId": "a/b"},
                    {"userId": "new\nline"}, {"userId": "x" * 200},
                    {"user": "x"}):
            assert_error(self, self.stack.post_json(
                "/api/sandbox/create", bad, timeout=TIMEOUT),
                400, "VALIDATION_ERROR", "userId")
        assert_error(self, post("POST", "/api/sandbox/create",
                                body='{"userId": ',
                                headers={"Content-Type": "application/json"},
                                timeout=TIMEOUT), 400, "VALIDATION_ERROR")
        assert_error(self, post("POST", "/api/sandbox/create",
                                body="userId=x", headers={
                                    "Content-Type":
                                    "application/x-www-form-urlencoded"},
                                timeout=TIMEOUT),
                     415, "UNSUPPORTED_MEDIA_TYPE")

    def test_status_and_delete_bad_ids(self):
        assert_error(self, self.stack.get("/api/sandbox/status",
                                          timeout=TIMEOUT),
                     400, "VALIDATION_ERROR", "id")
        assert_error(self, self.stack.get("/api/sandbox/status?id=",
                                          timeout=TIMEOUT),
                     400, "VALIDATION_ERROR", "id")
        assert_error(self, self.stack.get(
            "/api/sandbox/status?id=..%2F..%2Fetc%2Fpasswd", timeout=TIMEOUT),
            400, "VALIDATION_ERROR", "id")
        assert_error(self, self.stack.get(
            "/api/sandbox/status?id=omni-" + "0" * 32, timeout=TIMEOUT),
            404, "SANDBOX_NOT_FOUND")
        assert_error(self, self.stack.request("DELETE", "/api/sandbox",
                                              timeout=TIMEOUT),
                     400, "VALIDATION_ERROR", "id")
        assert_error(self, self.stack.request(
            "DELETE", "/api/sandbox?id=nosuch", timeout=TIMEOUT),
            404, "SANDBOX_NOT_FOUND")

    def test_wrong_methods(self):
        r = self.stack.get("/api/sandbox/create", timeout=TIMEOUT)
        assert_error(self, r, 405, "METHOD_NOT_ALLOWED")
        r = self.stack.request("POST", "/api/sandbox/status?id=x",
                               body={}, timeout=TIMEOUT)
        assert_error(self, r, 405, "METHOD_NOT_ALLOWED")

    # -- commands in the sandbox, via the debug endpoint --

    def ready_sandbox(self, tag):
        """The frontend's sequence: create, then status until ready."""
        r = self.create(self.user(tag))
        self.assertEqual(r.status, 200, r)
        return self.wait_ready(r.json()["sandboxId"])["sandboxId"]

    def exec(self, sandbox_id, command, timeout_s=None):
        body = {"sandboxId": sandbox_id, "command": command}
        if timeout_s is not None:
            body["timeoutS"] = timeout_s
        r = self.stack.post_json("/debug/sandbox/exec", body,
                                 timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type", "").startswith(
            "application/json"), r)
        out = r.json()
        self.assertEqual(set(out), {"exitCode", "timedOut", "truncated",
                                    "output"}, out)
        return out

    def test_exec_prints(self):
        sid = self.ready_sandbox("a")
        out = self.exec(sid, "echo hi")
        self.assertEqual(out, {"exitCode": 0, "timedOut": False,
                               "truncated": False, "output": "hi\n"})
        # Runs in the sandbox home, which is the directory on the host.
        out = self.exec(sid, "echo kept > made-here.txt; pwd; exit 4")
        self.assertEqual(out["exitCode"], 4, out)
        self.assertEqual(out["output"], "/home/omni\n", out)
        with open(os.path.join(sandbox_root(self.stack), sid, "home",
                               "made-here.txt")) as f:
            self.assertEqual(f.read(), "kept\n")

    def test_exec_cannot_reach_the_network(self):
        sid = self.ready_sandbox("a")
        # The front server listens on the host's 127.0.0.1:port; the
        # sandbox has a loopback of its own where nothing listens.
        probe = ("bash -c 'echo bash-ok; exec 3<>/dev/tcp/127.0.0.1/%d "
                 "&& echo connected'" % self.stack.port)
        host = subprocess.run(["sh", "-c", probe], capture_output=True,
                              text=True, timeout=TIMEOUT)
        self.assertEqual(host.returncode, 0, host)  # the control
        self.assertIn("connected", host.stdout)
        out = self.exec(sid, probe)
        self.assertIn("bash-ok", out["output"])  # bash ran...
        self.assertNotIn("connected", out["output"])  # ...and failed
        self.assertNotEqual(out["exitCode"], 0, out)
        self.assertFalse(out["timedOut"], out)

    def test_exec_cannot_write_outside_its_home(self):
        sid = self.ready_sandbox("a")
        tag = "%s-%d" % (self.FRONT, os.getpid())
        sbx_dir = os.path.join(sandbox_root(self.stack), sid)
        outside = {
            "/etc/omni-escape-" + tag: "/etc/omni-escape-" + tag,
            "/tmp/../omni-escape2-" + tag: "/omni-escape2-" + tag,
            # the host's own paths, absolute
            os.path.join(self.stack.run_dir, "escape-" + tag):
                os.path.join(self.stack.run_dir, "escape-" + tag),
            os.path.join(sbx_dir, "state-" + tag):
                os.path.join(sbx_dir, "state-" + tag),
            # the parent of the home: the sandbox directory on the host
            "../escape3-" + tag: os.path.join(sbx_dir, "escape3-" + tag),
            "/usr/omni-escape-" + tag: "/usr/omni-escape-" + tag,
        }
        script = "".join(
            "(echo x > '%s') 2>/dev/null && echo 'wrote %s' "
            "|| echo 'refused %s'; " % (p, p, p) for p in outside)
        # /tmp is the sandbox's own: the write succeeds there, not on
        # the host's /tmp.
        script += "echo y > /tmp/omni-tmp-%s && echo tmp-ok" % tag
        out = self.exec(sid, script)
        for p, host_path in outside.items():
            self.assertIn("refused " + p, out["output"], out)
            self.assertFalse(os.path.exists(host_path), host_path)
        self.assertIn("tmp-ok", out["output"], out)
        self.assertFalse(os.path.exists("/tmp/omni-tmp-" + tag))
        with open(os.path.join(sbx_dir, "tmp", "omni-tmp-" + tag)) as f:
            self.assertEqual(f.read(), "y\n")

    def test_exec_stops_at_its_time_limit(self):
        sid = self.ready_sandbox("a")
        started = time.monotonic()
        out = self.exec(sid, "echo started; sleep 37.25", timeout_s=1)
        elapsed = time.monotonic() - started
        self.assertTrue(out["timedOut"], out)
        self.assertNotEqual(out["exitCode"], 0, out)
        self.assertIn("started", out["output"])
        self.assertLess(elapsed, 10, "exec took %.1fs" % elapsed)
        # Nothing of the command is left running on the host.
        self.assertEqual(processes_with_args(["sleep", "37.25"]), [])
        # The sandbox still works.
        self.assertEqual(self.exec(sid, "echo again")["output"], "again\n")

    def test_exec_bad_inputs(self):
        sid = self.ready_sandbox("a")
        post = self.stack.post_json
        for body, field in (
                ({"command": "true"}, "sandboxId"),
                ({"sandboxId": "../x", "command": "true"}, "sandboxId"),
                ({"sandboxId": sid}, "command"),
                ({"sandboxId": sid, "command": ""}, "command"),
                ({"sandboxId": sid, "command": "true", "timeoutS": 0},
                 "timeoutS"),
                ({"sandboxId": sid, "command": "true", "timeoutS": 301},
                 "timeoutS"),
                ({"sandboxId": sid, "command": "true", "timeoutS": "1"},
                 "timeoutS")):
            assert_error(self, post("/debug/sandbox/exec", body,
                                    timeout=TIMEOUT),
                         400, "VALIDATION_ERROR", field)
        assert_error(self, post("/debug/sandbox/exec", {
            "sandboxId": "omni-" + "0" * 32, "command": "true"},
            timeout=TIMEOUT), 404, "SANDBOX_NOT_FOUND")
        rewrite_state(self.stack, sid, state="stopped")
        assert_error(self, post("/debug/sandbox/exec", {
            "sandboxId": sid, "command": "true"}, timeout=TIMEOUT),
            409, "CONFLICT")

    def test_ready_checks_the_provider(self):
        r = self.stack.get("/ready", timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r)
        checks = r.json().get("checks", {})
        self.assertIn("sandbox", checks, r.json())
        self.assertTrue(checks["sandbox"]["ok"], r.json())


def processes_with_args(argv):
    """Pids of host processes whose command line is exactly 'argv'."""
    want = ("\0".join(argv) + "\0").encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                if f.read() == want:
                    found.append(int(entry))
        except OSError:
            continue
    return found


class SandboxApiNginx(SandboxApi, unittest.TestCase):
    FRONT = "nginx"


class SandboxApiCaddy(SandboxApi, unittest.TestCase):
    FRONT = "caddy"


class SandboxIsolationRefused(unittest.TestCase):
    """Without a working bubblewrap the pool refuses to start, with one
    clear line, unless OMNI_LOCAL_UNSANDBOXED=1."""

    def _bin_dir_without_bwrap(self, run_dir):
        # A PATH where sh and friends exist but bwrap does not.
        d = os.path.join(run_dir, "bin")
        os.makedirs(d)
        for tool in ("sh", "true", "nginx"):
            path = shutil.which(tool)
            if path:
                os.symlink(path, os.path.join(d, tool))
        return d

    def test_refused_without_bwrap(self):
        stack = harness.Stack("nginx", workers=2, threads=16)
        self.addCleanup(stack.stop)
        stack.env["PATH"] = self._bin_dir_without_bwrap(stack.run_dir)
        with self.assertRaises(RuntimeError) as cm:
            stack.start(timeout=5)
        # The failure message carries the tail of the pool's log.
        self.assertIn("bubblewrap", str(cm.exception))
        self.assertIn("OMNI_LOCAL_UNSANDBOXED", str(cm.exception))

    def test_unsandboxed_flag_allows_it_with_a_warning(self):
        stack = harness.Stack("nginx", workers=2, threads=16, env={
            "OMNI_LOCAL_UNSANDBOXED": "1"})
        self.addCleanup(stack.stop)
        stack.env["PATH"] = self._bin_dir_without_bwrap(stack.run_dir)
        stack.start()
        r = stack.post_json("/api/sandbox/create", {"userId": "u"},
                            timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r)
        stack.wait_event("sandbox.local.unsandboxed")
        ready = stack.get("/ready", timeout=TIMEOUT).json()
        self.assertIn("unsandboxed", json.dumps(ready))


JWT_SECRET = "integration-jwt-secret-0123456789abcdef"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(claims, secret=JWT_SECRET):
    """A compact HS256 JWT over 'claims'."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), ("%s.%s" % (head, body)).encode(),
                   hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64url(mac))


def local_sandbox_id(user_id):
    """The local provider's sandbox id of a user (sandbox.h)."""
    return "omni-" + hashlib.sha256(user_id.encode()).hexdigest()[:32]


class SandboxOwnerNginx(harness.SharedStack, unittest.TestCase):
    """OMNI_AUTH=jwt, as in staging (development here so that the local
    provider is allowed): a user reaches only their own sandbox."""

    STACK_ARGS = {"workers": 2, "threads": 16, "env": {
        "OMNI_ENV": "development",
        "OMNI_AUTH": "jwt",
        "JWT_SECRET": JWT_SECRET,
        "SANDBOX_PROVIDER": "local",
    }}

    def user(self, tag):
        return "jwt-%s-%s" % (self._testMethodName, tag)

    def as_user(self, user_id, method, path, body=None):
        auth = {"Authorization": "Bearer " + token(
            {"sub": user_id, "exp": int(time.time()) + 3600})}
        return self.stack.request(method, path, body=body, headers=auth,
                                  timeout=TIMEOUT)

    def create_own(self, user_id):
        r = self.as_user(user_id, "POST", "/api/sandbox/create",
                         {"userId": user_id})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["userId"], user_id)
        return r.json()["sandboxId"]

    def sandbox_exists(self, sandbox_id):
        return os.path.isdir(os.path.join(sandbox_root(self.stack),
                                          sandbox_id))

    def test_tokens_are_required_and_need_a_subject(self):
        assert_error(self, self.stack.get("/api/sandbox/status?id=x",
                                          timeout=TIMEOUT),
                     401, "UNAUTHORIZED")
        r = self.stack.request("GET", "/api/sandbox/status?id=x",
                               headers={"Authorization": "Bearer " + token(
                                   {"exp": int(time.time()) + 3600})},
                               timeout=TIMEOUT)
        err = assert_error(self, r, 401, "UNAUTHORIZED")
        self.assertEqual(err["message"], "token has no subject")
        self.assertEqual(r.header("WWW-Authenticate"), "Bearer")

    def test_tokens_need_an_integer_expiry_and_a_clean_subject(self):
        alice = self.user("alice")
        sid = self.create_own(alice)
        for claims in ({"sub": alice},                       # no exp
                       {"sub": alice, "exp": float("nan")},  # never expires
                       {"sub": alice, "exp": time.time() + 3600.5},
                       {"sub": alice, "exp": str(int(time.time()) + 3600)},
                       {"sub": alice + "\u0000x",
                        "exp": int(time.time()) + 3600}):
            r = self.stack.request(
                "GET", "/api/sandbox/status?id=" + sid, timeout=TIMEOUT,
                headers={"Authorization": "Bearer " + token(claims)})
            assert_error(self, r, 401, "UNAUTHORIZED")

    def test_own_sandbox_lifecycle(self):
        alice = self.user("alice")
        sid = self.create_own(alice)
        r = self.as_user(alice, "GET", "/api/sandbox/status?id=" + sid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["sandboxId"], sid)
        r = self.as_user(alice, "POST", "/debug/sandbox/exec",
                         {"sandboxId": sid, "command": "echo mine"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["output"], "mine\n")
        r = self.as_user(alice, "DELETE", "/api/sandbox?id=" + sid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"sandboxId": sid, "deleted": True})
        self.assertFalse(self.sandbox_exists(sid))

    def test_create_for_another_user_is_forbidden(self):
        alice, bob = self.user("alice"), self.user("bob")
        r = self.as_user(alice, "POST", "/api/sandbox/create",
                         {"userId": bob})
        assert_error(self, r, 403, "FORBIDDEN", "userId")
        self.assertFalse(self.sandbox_exists(local_sandbox_id(bob)))
        self.assertFalse(self.sandbox_exists(local_sandbox_id(alice)))

    def test_another_users_sandbox_is_not_found(self):
        alice, bob = self.user("alice"), self.user("bob")
        self.create_own(alice)
        sid = self.create_own(bob)
        home = os.path.join(sandbox_root(self.stack), sid, "home")
        unknown = "omni-" + "0" * 32
        # status: exactly the answer an unknown id gets
        r = self.as_user(alice, "GET", "/api/sandbox/status?id=" + sid)
        assert_error(self, r, 404, "SANDBOX_NOT_FOUND")
        u = self.as_user(alice, "GET", "/api/sandbox/status?id=" + unknown)
        self.assertEqual(r.json(), u.json())
        # exec: refused, the command does not run
        r = self.as_user(alice, "POST", "/debug/sandbox/exec",
                         {"sandboxId": sid, "command": "echo x > ran"})
        assert_error(self, r, 404, "SANDBOX_NOT_FOUND")
        self.assertFalse(os.path.exists(os.path.join(home, "ran")))
        # delete: refused, nothing deleted
        r = self.as_user(alice, "DELETE", "/api/sandbox?id=" + sid)
        assert_error(self, r, 404, "SANDBOX_NOT_FOUND")
        u = self.as_user(alice, "DELETE", "/api/sandbox?id=" + unknown)
        self.assertEqual(r.json(), u.json())
        self.assertTrue(self.sandbox_exists(sid))
        r = self.as_user(bob, "GET", "/api/sandbox/status?id=" + sid)
        self.assertEqual(r.status, 200, r)
        # and the owner still reaches it
        r = self.as_user(bob, "DELETE", "/api/sandbox?id=" + sid)
        self.assertEqual(r.status, 200, r)
        self.assertFalse(self.sandbox_exists(sid))


class DebugExecHidden(unittest.TestCase):
    """Without OMNI_DEBUG_ROUTES the exec endpoint does not exist."""

    def test_404_without_debug_routes(self):
        stack = harness.Stack("nginx", workers=1, threads=17, env={
            "SANDBOX_PROVIDER": "local"})
        self.addCleanup(stack.stop)
        del stack.env["OMNI_DEBUG_ROUTES"]
        stack.start()
        r = stack.post_json("/api/sandbox/create", {"userId": "hidden"},
                            timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r)  # the sandbox API is served
        sid = r.json()["sandboxId"]
        r = stack.post_json("/debug/sandbox/exec",
                            {"sandboxId": sid, "command": "echo hi"},
                            timeout=TIMEOUT)
        assert_error(self, r, 404, "NOT_FOUND")
        stack.stop()
        self.assertEqual(stack.sanitizer_errors(), [])


class WorkspaceTemplate(unittest.TestCase):
    """Every new local sandbox starts with the founder workspace of
    sandbox-image/workspace/, seen from inside the sandbox, as `make run`
    configures it."""

    def test_new_sandbox_has_the_workspace(self):
        template = os.path.join(harness.REPO, "sandbox-image", "workspace")
        stack = harness.Stack("nginx", workers=1, threads=17, env={
            "SANDBOX_PROVIDER": "local",
            "OMNI_WORKSPACE_TEMPLATE": template})
        self.addCleanup(stack.stop)
        stack.start()
        r = stack.post_json("/api/sandbox/create", {"userId": "founder"},
                            timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r)
        sid = r.json()["sandboxId"]
        want = sorted(
            os.path.relpath(os.path.join(d, f), template)
            for d, _, files in os.walk(template) for f in files)
        self.assertIn(".omni-system/README.md", want)
        r = stack.post_json("/debug/sandbox/exec", {
            "sandboxId": sid,
            "command": "find . -type f -printf '%P\\n' | sort; "
                       "test -w metrics/current.json && echo writable"},
            timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r)
        lines = r.json()["output"].splitlines()
        self.assertEqual(lines[-1], "writable")
        self.assertEqual(lines[:-1], want)
        stack.stop()
        self.assertEqual(stack.sanitizer_errors(), [])


if __name__ == "__main__":
    unittest.main()
