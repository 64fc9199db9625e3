"""Sandbox API on the local provider, through real nginx (and Caddy).

The web frontend's sequence (create, then status until ready), reuse of
the user's sandbox across workers, concurrent creates for one user,
restart of a stopped sandbox and replacement of a broken one (done to the
sandbox directory from outside, as another process would), delete, and
bad inputs answered with the contract's error model.

Commands in the sandbox (network, writes outside it, wall-time limit) have
no HTTP endpoint of their own: tests/unit/test_sandbox_local.c runs them
against the real bubblewrap.

Only 127.0.0.1 is used; every wait is bounded.
"""

import json
import os
import shutil
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


class SandboxApi:
    """Mixin: the tests; subclasses set FRONT."""

    FRONT = None
    stack = None

    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack(cls.FRONT, workers=2, threads=16, env={
            "SANDBOX_PROVIDER": "local",
        }).start()

    @classmethod
    def tearDownClass(cls):
        if cls.stack is not None:
            cls.stack.stop()
            errors = cls.stack.sanitizer_errors()
            cls.stack = None
            if errors:
                raise AssertionError("sanitizer reports:\n"
                                     + "\n".join(errors[:20]))

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

    def test_ready_checks_the_provider(self):
        r = self.stack.get("/ready", timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r)
        checks = r.json().get("checks", {})
        self.assertIn("sandbox", checks, r.json())
        self.assertTrue(checks["sandbox"]["ok"], r.json())


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


if __name__ == "__main__":
    unittest.main()
