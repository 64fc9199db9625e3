"""The sandbox API on the Daytona provider, through nginx (and Caddy for
the frontend's sequence), against tests/fakes/fake_daytona.py.

Scenarios: the frontend's create-then-poll sequence, reuse, restart of a
stopped sandbox, replacement of an errored one, concurrent creates for one
user served by two workers, key rotation with the old key revoked mid-test
(fallback key, then key file + SIGHUP), and every fault kind of the fake
(401, 404, 409, 429 with Retry-After-<throttler>, 500, 503, dropped
connections, latency, quota).  The number of Daytona calls made per API
request is asserted and printed ("daytona-calls ...").

Only 127.0.0.1 is used; every process is stopped by its pid (harness.py).
"""

import os
import signal
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

FAKE = os.path.join(harness.REPO, "tests", "fakes", "fake_daytona.py")
KEY_OLD = "it-key-old"
KEY_NEW = "it-key-new"
TIMEOUT = 30.0
CALLS = {}  # API request -> Daytona calls, printed at the end


class Fake:
    """The fake Daytona server, started with port 0, stopped by pid."""

    def __init__(self, log_dir, extra=()):
        self.proc = harness.spawn(
            [sys.executable, FAKE, "--port", "0",
             "--key", KEY_OLD + ":old", "--key", KEY_NEW + ":new",
             "--create-delay", "0.3", "--start-delay", "0.3",
             "--max-lifetime", "900"] + list(extra), "fake-daytona",
            log_dir)

        def port():
            for line in self.proc.log().splitlines():
                if line.startswith("PORT="):
                    return int(line[5:])
            if not self.proc.alive():
                raise RuntimeError("fake exited: " + self.proc.log())
            return None
        self.port = harness.wait_until(port, 15, what="fake daytona port")
        self.api_url = "http://127.0.0.1:%d/api" % self.port

    def ctl(self, method, path, body=None):
        r = harness.request(self.port, method, "/__control" + path,
                            body=body if body is not None else
                            ({} if method == "POST" else None))
        if r.status != 200:
            raise AssertionError("control %s %s: %r" % (method, path, r))
        return r.json() if r.body else None

    def reset(self):
        self.ctl("POST", "/reset")
        self.ctl("POST", "/keys/add", {"key": KEY_OLD, "name": "old"})
        self.ctl("POST", "/keys/add", {"key": KEY_NEW, "name": "new"})

    def fault(self, **f):
        self.ctl("POST", "/faults", f)

    def log(self):
        return self.ctl("GET", "/log")

    def clear_log(self):
        self.ctl("POST", "/log/reset")

    def calls(self, prefix=None, status=None, key=None):
        out = []
        for e in self.log():
            route = "%s %s" % (e["method"], e["path"])
            if prefix and not route.startswith(prefix):
                continue
            if status is not None and e["status"] != status:
                continue
            if key is not None and e["key"] != key:
                continue
            out.append(e)
        return out

    def live(self, user=None):
        return [s for s in self.ctl("GET", "/sandboxes")
                if s["state"] not in ("destroyed", "destroying")
                and (user is None or
                     s["labels"].get("omni.user-id") == user)]

    def set_state(self, sid, state):
        self.ctl("POST", "/sandboxes/%s/state" % sid, {"state": state})

    def stop(self):
        self.proc.stop()


def assert_error(tc, resp, status, code):
    tc.assertEqual(resp.status, status, resp)
    tc.assertTrue(resp.header("Content-Type", "").startswith(
        "application/json"), resp)
    err = resp.json()["error"]
    tc.assertEqual(err["code"], code, resp)
    tc.assertTrue(err["message"])
    tc.assertIn("details", err)
    return err


class DaytonaStack:
    """Mixin: a fake and a stack on it for the whole class."""

    FRONT = "nginx"
    WORKERS = 2
    THREADS = 16
    RENDER = ()
    EXTRA_ENV = {}

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="omni-dt-")
        cls.fake = Fake(cls.dir)
        env = {
            "SANDBOX_PROVIDER": "daytona",
            "DAYTONA_API_URL": cls.fake.api_url,
            "DAYTONA_API_KEY": KEY_OLD,
            "DAYTONA_API_KEY_FALLBACK": KEY_NEW,
            "DAYTONA_SNAPSHOT": "omni-it",
        }
        env.update(cls.EXTRA_ENV)
        cls.stack = harness.Stack(cls.FRONT, workers=cls.WORKERS,
                                  threads=cls.THREADS, env=env,
                                  render=cls.RENDER)
        try:
            cls.stack.start()
        except Exception:
            cls.fake.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        errors = cls.stack.stop_and_check()
        cls.fake.stop()
        if errors:
            raise AssertionError("sanitizer reports:\n" + "\n".join(errors))

    def setUp(self):
        self.fake.reset()

    def tearDown(self):
        self.assertEqual(self.stack.sanitizer_errors(), [])

    # -- API helpers --

    def create(self, user, **kw):
        return self.stack.post_json("/api/sandbox/create", {"userId": user},
                                    timeout=TIMEOUT, **kw)

    def status(self, sid):
        return self.stack.get("/api/sandbox/status?id=" + sid,
                              timeout=TIMEOUT)

    def delete(self, sid):
        return self.stack.request("DELETE", "/api/sandbox?id=" + sid,
                                  timeout=TIMEOUT)

    def wait_ready(self, sid, timeout=10):
        def ready():
            r = self.status(sid)
            self.assertEqual(r.status, 200, r)
            return r.json()["status"] == "ready"
        harness.wait_until(ready, timeout, interval=0.1,
                           what="sandbox %s ready" % sid)

    def ready_sandbox(self, user):
        r = self.create(user)
        self.assertEqual(r.status, 200, r)
        sid = r.json()["sandboxId"]
        self.wait_ready(sid)
        return sid

    def counted(self, name, fn):
        """Run one API request; record the Daytona calls it made."""
        self.fake.clear_log()
        r = fn()
        n = len(self.fake.log())
        CALLS[name] = n
        print("daytona-calls %-40s %d" % (name, n), flush=True)
        return r, n


class FrontendSequence:
    """The web frontend: create, then status until ready."""

    def test_create_then_poll_until_ready(self):
        r = self.create("front-user")
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(set(body), {"sandboxId", "status", "createdAt",
                                     "userId"})
        self.assertEqual(body["userId"], "front-user")
        self.assertIn(body["status"], ("creating", "ready"))
        sid = body["sandboxId"]
        seen = set()

        def ready():
            s = self.status(sid)
            self.assertEqual(s.status, 200, s)
            self.assertEqual(set(s.json()), {"sandboxId", "status",
                                             "createdAt"})
            seen.add(s.json()["status"])
            return s.json()["status"] == "ready"
        harness.wait_until(ready, 10, interval=0.05, what="ready")
        self.assertLessEqual(seen, {"creating", "ready"})
        # the create carried the snapshot and the user's label
        create = self.fake.calls("POST /api/sandbox", 200)[0]
        self.assertEqual(create["body"]["snapshot"], "omni-it")
        self.assertEqual(create["body"]["labels"]["omni.user-id"],
                         "front-user")
        self.assertGreater(create["body"]["autoStopInterval"], 0)


class DaytonaNginxTests(DaytonaStack, FrontendSequence, unittest.TestCase):
    FRONT = "nginx"

    # -- lifecycle --

    def test_calls_per_request(self):
        r, n = self.counted("POST create (new user)",
                            lambda: self.create("count-user"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(n, 2)  # GET by name (404), POST create
        sid = r.json()["sandboxId"]
        self.wait_ready(sid)
        r, n = self.counted("GET status", lambda: self.status(sid))
        self.assertEqual(n, 1)
        r, n = self.counted("POST create (existing, ready)",
                            lambda: self.create("count-user"))
        self.assertEqual(r.json()["sandboxId"], sid)
        self.assertEqual(n, 1)
        self.fake.set_state(sid, "stopped")
        r, n = self.counted("POST create (existing, stopped)",
                            lambda: self.create("count-user"))
        self.assertEqual(n, 3)  # GET by name, POST start, GET
        self.wait_ready(sid)
        self.fake.set_state(sid, "error")
        r, n = self.counted("POST create (existing, error)",
                            lambda: self.create("count-user"))
        # GET by name, GET by id + DELETE (remove), GET by name, POST
        self.assertEqual(n, 5)
        sid = r.json()["sandboxId"]
        self.wait_ready(sid)
        r, n = self.counted("DELETE", lambda: self.delete(sid))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"sandboxId": sid, "deleted": True})
        self.assertEqual(n, 2)  # GET (ownership), DELETE
        r, n = self.counted("GET status (unknown id)",
                            lambda: self.status("no-such-sandbox"))
        assert_error(self, r, 404, "SANDBOX_NOT_FOUND")
        self.assertEqual(n, 1)

    def test_reuse(self):
        a = self.create("reuse-user").json()["sandboxId"]
        b = self.create("reuse-user").json()["sandboxId"]
        self.assertEqual(a, b)
        self.assertEqual(len(self.fake.live("reuse-user")), 1)
        self.assertEqual(len(self.fake.calls("POST /api/sandbox", 200)), 1)

    def test_restart_stopped(self):
        sid = self.ready_sandbox("stop-user")
        self.fake.set_state(sid, "stopped")
        self.assertEqual(self.status(sid).json()["status"], "stopped")
        r = self.create("stop-user")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["sandboxId"], sid)
        self.assertIn(r.json()["status"], ("creating", "ready"))
        self.assertEqual(len(self.fake.calls(
            "POST /api/sandbox/%s/start" % sid, 200)), 1)
        self.wait_ready(sid)

    def test_restart_archived(self):
        sid = self.ready_sandbox("arch-user")
        self.fake.set_state(sid, "archived")
        self.assertEqual(self.status(sid).json()["status"], "stopped")
        self.assertEqual(self.create("arch-user").json()["sandboxId"], sid)
        self.wait_ready(sid)

    def test_replace_errored(self):
        old = self.ready_sandbox("err-user")
        self.fake.set_state(old, "error")
        self.assertEqual(self.status(old).json()["status"], "error")
        r = self.create("err-user")
        self.assertEqual(r.status, 200, r)
        new = r.json()["sandboxId"]
        self.assertNotEqual(new, old)
        live = self.fake.live("err-user")
        self.assertEqual([s["id"] for s in live], [new])
        self.assertEqual(len(self.fake.calls("DELETE /api/sandbox/%s"
                                             % old, 200)), 1)
        self.wait_ready(new)

    def test_delete_refuses_foreign_sandbox(self):
        # A sandbox of the organisation that Omni did not make.
        r = harness.request(self.fake.port, "POST", "/api/sandbox",
                            body={"name": "not-omni"},
                            headers={"Authorization": "Bearer " + KEY_NEW})
        self.assertEqual(r.status, 200, r)
        other = r.json()["id"]
        assert_error(self, self.status(other), 404, "SANDBOX_NOT_FOUND")
        assert_error(self, self.delete(other), 404, "SANDBOX_NOT_FOUND")
        self.assertEqual(self.fake.calls("DELETE"), [])
        # Nor a command in it, with auth off as here: the same owner path
        # as status and delete (it never reaches the toolbox).
        r = self.stack.post_json("/debug/sandbox/exec",
                                 {"sandboxId": other, "command": "id"},
                                 timeout=TIMEOUT)
        assert_error(self, r, 404, "SANDBOX_NOT_FOUND")
        self.assertEqual([c for c in self.fake.log()
                          if "/toolbox/" in c.get("path", "")], [])

    def test_bad_requests_never_reach_daytona(self):
        assert_error(self, self.stack.post_json("/api/sandbox/create", {}),
                     400, "VALIDATION_ERROR")
        assert_error(self, self.status("bad%20id!"), 400,
                     "VALIDATION_ERROR")
        self.assertEqual(self.fake.log(), [])

    def test_ready_checks_daytona(self):
        r = self.stack.get("/ready", timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r)
        self.fake.ctl("POST", "/keys/revoke", {"name": "old"})
        self.fake.ctl("POST", "/keys/revoke", {"name": "new"})

        def not_ready():
            r = self.stack.get("/ready", timeout=TIMEOUT)
            return r if r.status == 503 else None
        r = harness.wait_until(not_ready, 10, interval=0.5, what="not ready")
        self.assertIn("401", r.text)
        self.assertNotIn(KEY_OLD, r.text)

    # -- faults --

    def test_fault_401(self):
        sid = self.ready_sandbox("f401-user")
        # The primary refused once: the fallback answers.
        self.fake.clear_log()
        self.fake.fault(kind="status", status=401, count=1,
                        match="^GET /api/")
        self.assertEqual(self.status(sid).status, 200)
        self.assertEqual(len(self.fake.calls(status=401)), 1)
        # Both refused: an upstream error, never the key in the answer.
        self.fake.fault(kind="status", status=401, count=2,
                        match="^GET /api/")
        r = self.status(sid)
        assert_error(self, r, 502, "UPSTREAM_ERROR")
        self.assertNotIn(KEY_OLD, r.text)
        self.assertNotIn(KEY_NEW, r.text)

    def test_fault_404(self):
        sid = self.ready_sandbox("f404-user")
        self.fake.fault(kind="status", status=404, match="^GET /api/")
        assert_error(self, self.status(sid), 404, "SANDBOX_NOT_FOUND")

    def test_fault_409_on_create(self):
        self.fake.fault(kind="status", status=409,
                        match="^POST /api/sandbox$")
        r = self.create("f409-user")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(self.fake.live("f409-user")), 1)

    def test_fault_429_on_status_is_retried(self):
        sid = self.ready_sandbox("f429-user")
        self.fake.clear_log()
        self.fake.fault(kind="status", status=429, retry_after=1,
                        throttler="authenticated", match="^GET /api/")
        t0 = time.monotonic()
        r = self.status(sid)
        self.assertEqual(r.status, 200, r)
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        self.assertEqual(len(self.fake.log()), 2)

    def test_fault_429_on_create_is_not_retried(self):
        self.fake.fault(kind="status", status=429, retry_after=3,
                        throttler="sandbox-create",
                        match="^POST /api/sandbox$")
        r = self.create("f429c-user")
        err = assert_error(self, r, 503, "SERVICE_UNAVAILABLE")
        self.assertEqual(err["details"]["reason"], "rate_limited")
        self.assertEqual(r.header("Retry-After"), "3")
        self.assertEqual(len(self.fake.calls("POST /api/sandbox")), 1)

    def test_fault_500(self):
        sid = self.ready_sandbox("f500-user")
        self.fake.clear_log()
        self.fake.fault(kind="status", status=500, match="^GET /api/")
        assert_error(self, self.status(sid), 502, "UPSTREAM_ERROR")
        self.assertEqual(len(self.fake.log()), 1)  # not retried

    def test_fault_503(self):
        sid = self.ready_sandbox("f503-user")
        self.fake.clear_log()
        self.fake.fault(kind="status", status=503, count=2,
                        match="^GET /api/")
        self.assertEqual(self.status(sid).status, 200)
        self.assertEqual(len(self.fake.log()), 3)
        self.fake.fault(kind="status", status=503, count=50,
                        match="^GET /api/")
        r = self.status(sid)
        assert_error(self, r, 503, "SERVICE_UNAVAILABLE")
        self.assertTrue(r.header("Retry-After"))
        self.fake.ctl("DELETE", "/faults")

    def test_fault_dropped_connection(self):
        sid = self.ready_sandbox("fdrop-user")
        self.fake.clear_log()
        self.fake.fault(kind="drop", match="^GET /api/")
        self.assertEqual(self.status(sid).status, 200)
        self.assertEqual(len(self.fake.log()), 2)
        # A create is not sent twice.
        self.fake.clear_log()
        self.fake.fault(kind="drop", match="^POST /api/sandbox$")
        assert_error(self, self.create("fdrop-user2"), 503,
                     "SERVICE_UNAVAILABLE")
        self.assertEqual(len(self.fake.calls("POST /api/sandbox")), 1)
        # Created but the answer lost: found again, still one sandbox.
        self.fake.fault(kind="drop_after", match="^POST /api/sandbox$")
        r = self.create("fdrop-user3")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(self.fake.live("fdrop-user3")), 1)

    def test_fault_latency(self):
        sid = self.ready_sandbox("flat-user")
        self.fake.fault(kind="latency", latency_ms=700, match="^GET /api/")
        t0 = time.monotonic()
        self.assertEqual(self.status(sid).status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.7)

    def test_fault_quota(self):
        self.ready_sandbox("quota-user1")
        self.fake.ctl("POST", "/config", {"max_sandboxes": 1})
        r = self.create("quota-user2")
        err = assert_error(self, r, 503, "SERVICE_UNAVAILABLE")
        self.assertEqual(err["details"]["reason"], "quota")
        self.assertIn("limit", err["details"]["providerMessage"])
        self.assertIn("limit", err["message"])


class DaytonaRaceTests(DaytonaStack, unittest.TestCase):
    """Two workers of two threads each, one idle FastCGI connection per
    nginx worker: eight concurrent requests cannot all land on one
    worker."""

    WORKERS = 2
    THREADS = 2
    RENDER = ("--set", "OMNI_FCGI_KEEPALIVE=1")

    def test_concurrent_creates_one_sandbox(self):
        # Creates wait before being served, so every request looks the
        # name up before any create lands: they all race to create.
        self.fake.fault(kind="latency", latency_ms=500, count=8,
                        match="^POST /api/sandbox$")
        since = len(self.stack.pool_events())
        results = harness.parallel(8, lambda i: self.create("race-user"),
                                   timeout=TIMEOUT)
        for r in results:
            self.assertNotIsInstance(r, Exception)
            self.assertEqual(r.status, 200, r)
        ids = {r.json()["sandboxId"] for r in results}
        self.assertEqual(len(ids), 1, ids)
        self.assertEqual(len(self.fake.live("race-user")), 1)
        self.assertEqual(len(self.fake.calls("POST /api/sandbox", 200)), 1)
        self.assertGreaterEqual(len(self.fake.calls("POST /api/sandbox",
                                                    409)), 1)
        pids = {e["pid"] for e in self.stack.pool_events()[since:]
                if e.get("event") == "request"
                and e.get("path") == "/api/sandbox/create"}
        print("race: %d requests served by %d worker(s)" % (
            len(results), len(pids)), flush=True)
        self.assertGreaterEqual(len(pids), 2, "both workers took part")



class DaytonaCaddyTests(DaytonaStack, FrontendSequence, unittest.TestCase):
    FRONT = "caddy"
    WORKERS = 1


class DaytonaKeyRotationTests(unittest.TestCase):
    """Zero-downtime rotation as docs/deploy.md tells it: the new key as
    DAYTONA_API_KEY_FALLBACK, the old one revoked; then the new key in
    DAYTONA_API_KEY_FILE and SIGHUP."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="omni-dt-rot-")
        self.fake = Fake(self.dir)
        self.fake.reset()
        self.key_file = os.path.join(self.dir, "daytona.key")
        with open(self.key_file, "w") as f:
            f.write(KEY_OLD + "\n")
        os.chmod(self.key_file, 0o600)
        self.stack = harness.Stack("nginx", workers=2, threads=16, env={
            "SANDBOX_PROVIDER": "daytona",
            "DAYTONA_API_URL": self.fake.api_url,
            "DAYTONA_API_KEY_FILE": self.key_file,
            "DAYTONA_API_KEY_FALLBACK": KEY_NEW,
        })
        try:
            self.stack.start()
        except Exception:
            self.fake.stop()
            raise

    def tearDown(self):
        errors = self.stack.stop_and_check()
        self.fake.stop()
        self.assertEqual(errors, [])

    def test_rotation_without_a_failed_request(self):
        st = self.stack
        r = st.post_json("/api/sandbox/create", {"userId": "rot-user"},
                         timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r)
        sid = r.json()["sandboxId"]
        self.assertTrue(self.fake.calls(key="old", status=200))
        self.assertFalse(self.fake.calls(key="new"))

        # Traffic all along; not one request may fail.
        stop = threading.Event()
        failures, count = [], [0]

        def traffic():
            while not stop.is_set():
                try:
                    resp = st.get("/api/sandbox/status?id=" + sid,
                                  timeout=TIMEOUT)
                    if resp.status != 200:
                        failures.append(resp)
                except Exception as exc:  # noqa: BLE001
                    failures.append(exc)
                count[0] += 1
                time.sleep(0.01)
        threads = [threading.Thread(target=traffic, daemon=True)
                   for _ in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.3)
            # 1. The old key is revoked mid-traffic: the fallback answers.
            self.fake.clear_log()
            self.fake.ctl("POST", "/keys/revoke", {"name": "old"})
            harness.wait_until(lambda: len(self.fake.calls(
                key="new", status=200)) >= 20, 15, what="fallback in use")
            time.sleep(0.3)
            # Each worker learns once which key works: it is refused at
            # most once per call in flight when it learns (4 traffic
            # threads), and never after.  Counted over the whole phase,
            # not from some moment on: a worker that nginx has not sent a
            # request to yet learns later, with its first ones.
            refused = len(self.fake.calls(status=401))
            self.assertLessEqual(refused, 2 * 4, refused)
            # 2. The new key goes into the key file; SIGHUP rolls the
            # workers onto it.
            old_workers = st.worker_pids()
            with open(self.key_file + ".tmp", "w") as f:
                f.write(KEY_NEW + "\n")
            os.rename(self.key_file + ".tmp", self.key_file)
            since = len(st.pool_events())
            st.pool.signal(signal.SIGHUP)
            st.wait_event("reload", timeout=10, since=since)
            harness.wait_until(
                lambda: len(st.worker_pids()) == 2 and
                not (st.worker_pids() & old_workers), 20,
                what="workers replaced")
            self.fake.clear_log()
            time.sleep(0.5)
            self.assertTrue(self.fake.calls(key="new", status=200))
            self.assertEqual(self.fake.calls(status=401), [])
        finally:
            stop.set()
            for t in threads:
                t.join(TIMEOUT)
        self.assertEqual(failures, [])
        self.assertGreater(count[0], 50)
        print("rotation: %d requests, none failed" % count[0], flush=True)
        log = st.pool.log()
        self.assertNotIn(KEY_OLD, log)
        self.assertNotIn(KEY_NEW, log)
        self.assertEqual(st.sanitizer_errors(), [])


if __name__ == "__main__":
    unittest.main()
