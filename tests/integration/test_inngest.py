"""Inngest SDK integration tests: the real binary behind real nginx and
real Caddy, driven over the SDK protocol by the test executor
(tests/fakes/inngest_executor.py), which plays the Inngest server: it
receives the sync, receives events, signs call requests and runs each
function to completion, retrying as the real server does.

The functions are the SDK test functions of app/functions/testing.c
(registered because the harness sets OMNI_DEBUG_ROUTES=1).  Only 127.0.0.1
is used; every wait is bounded.
"""

import json
import os
import sys
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fakes"))
import harness  # noqa: E402
import inngest_executor as ix  # noqa: E402

KEY = "signkey-test-" + "5ec7e7" * 8
FALLBACK = "signkey-test-" + "fa11bac4" * 6
EVENT_KEY = "it-event-key"
RUN_TIMEOUT = 30.0  # generous: the suite also runs under ASan
SDK_HEADER_PREFIX = "c:v"


class Executor:
    """The fake Inngest server as a subprocess, with its control API."""

    def __init__(self, log_dir, extra=()):
        self.port = harness.free_port()
        self.proc = harness.spawn(
            [sys.executable, os.path.join(HERE, "..", "fakes",
                                          "inngest_executor.py"),
             "--port", str(self.port), "--signing-key", KEY,
             "--event-key", EVENT_KEY, "--max-sleep", "1",
             "--max-wait", "1.5", "--retry-delay", "0.05"] + list(extra),
            "inngest-executor", log_dir)
        harness.wait_until(self._up, 15, what="inngest executor")

    def _up(self):
        if not self.proc.alive():
            raise harness.StopWaiting(self.proc.log())
        try:
            return self.get("/test/health")["ok"]
        except OSError:
            return False

    @property
    def origin(self):
        return "http://127.0.0.1:%d" % self.port

    def _call(self, method, path, obj=None, timeout=RUN_TIMEOUT + 5):
        data = json.dumps(obj).encode() if obj is not None else None
        req = urllib.request.Request(self.origin + path, data=data,
                                     method=method, headers={
                                         "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return {"http_status": e.code, "body": e.read().decode()}

    def get(self, path, **kw):
        return self._call("GET", path, **kw)

    def post(self, path, obj, **kw):
        return self._call("POST", path, obj, **kw)

    def config(self, **knobs):
        return self.post("/test/config", knobs)

    def send(self, name, data, key=EVENT_KEY):
        return self.post("/e/" + key, [{"name": name, "data": data}])

    def start(self, fn, data=None):
        return self.post("/test/runs", {"function_id": "omni-" + fn,
                                        "data": data or {}})["run_id"]

    def wait(self, run_id, timeout=RUN_TIMEOUT):
        return self.get("/test/runs/%s?wait=%s" % (run_id, timeout))

    def run(self, fn, data=None):
        return self.wait(self.start(fn, data))

    def stop(self):
        self.proc.stop()


class InngestMixin:
    FRONT = "nginx"
    EXTRA_ENV = {}

    @classmethod
    def setUpClass(cls):
        port = harness.free_port()
        # Cloud mode takes the sync URL from configuration only.
        cls.stack = harness.Stack(front=cls.FRONT, port=port, env=dict({
            "INNGEST_SERVE_ORIGIN": "http://127.0.0.1:%d" % port,
            "INNGEST_DEV": "0",
            "INNGEST_SIGNING_KEY": KEY,
            "INNGEST_SIGNING_KEY_FALLBACK": FALLBACK,
            "INNGEST_EVENT_KEY": EVENT_KEY,
            "INNGEST_APP_ID": "omni",
            "OMNI_EVENT_PREFIX": "omni",
        }, **cls.EXTRA_ENV))
        try:
            cls.ex = Executor(cls.stack.log_dir)
            cls.stack.env["INNGEST_BASE_URL"] = cls.ex.origin
            cls.stack.start()
            if cls.stack.request("GET", "/api/inngest").status == 404:
                raise unittest.SkipTest("/api/inngest is not routed")
            r = cls.stack.request("PUT", "/api/inngest")
            if r.status != 200:
                raise RuntimeError("sync failed: %r %s\n%s" % (
                    r, r.text, cls.stack.dump_logs()))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "stack", None) is not None:
            cls.stack.stop()
        if getattr(cls, "ex", None) is not None:
            cls.ex.stop()

    def setUp(self):
        self.ex.config(bad_signature=False, unsigned=False,
                       sign_canonical=False, use_api=False)

    def tearDown(self):
        errors = self.stack.sanitizer_errors()
        self.assertEqual(errors, [], "\n".join(errors))

    # -- helpers --

    def assert_completed(self, run, output=None):
        self.assertEqual(run.get("status"), "completed",
                         json.dumps(run, indent=1)[:4000])
        if output is not None:
            self.assertEqual(run["output"], output)
        for call in run["calls"]:
            self.assertTrue((call["sdk"] or "").startswith(SDK_HEADER_PREFIX),
                            call)
            self.assertEqual(call["req_version"], "2", call)
        return run

    def signed_post(self, query, body, key=KEY, ts=None):
        raw = json.dumps(body, separators=(",", ":")).encode()
        return self.stack.request("POST", "/api/inngest?" + query, body=raw,
                                  headers={
                                      "Content-Type": "application/json",
                                      "X-Inngest-Signature":
                                          ix.sign(key, raw, ts)})


class InngestCoreTests(InngestMixin):
    """Every test runs through both front servers: each forwards the raw
    body, the signature header and the query untouched, or the SDK
    cannot verify and route."""

    def test_three_step_function_runs_to_completion(self):
        ids = self.ex.send("omni/test.three-steps", {"n": 1})["ids"]
        self.assertEqual(len(ids), 1)
        run_id = harness.wait_until(
            lambda: [r["run_id"] for r in self.ex.get("/test/runs")["runs"]
                     if r.get("event_id") == ids[0]], 10,
            what="run for the event")[0]
        run = self.assert_completed(self.ex.wait(run_id),
                                    {"steps": ["first", "second", "third"]})
        self.assertEqual([c["status"] for c in run["calls"]],
                         [206, 206, 206, 200])
        self.assertEqual(run["stack"], [ix.step_hash("first"),
                                        ix.step_hash("second"),
                                        ix.step_hash("third")])

    def test_sync_registered_every_function(self):
        fns = self.ex.get("/test/functions")["functions"]
        for name in ("three-steps", "flaky", "fatal", "sleep", "parallel",
                     "wait", "send", "invoke"):
            self.assertIn("omni-test-" + name, fns)
        url = fns["omni-test-three-steps"]["steps"]["step"]["runtime"]["url"]
        self.assertEqual(url, "http://127.0.0.1:%d/api/inngest?fnId="
                         "omni-test-three-steps&stepId=step" % self.stack.port)
        r = self.stack.request("PUT", "/api/inngest")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json(), {"message": "Successfully synced.",
                                    "modified": False})
        self.assertTrue(r.header("X-Inngest-Sdk").startswith(
            SDK_HEADER_PREFIX))

    def test_failing_step_is_retried_then_succeeds(self):
        run = self.assert_completed(self.ex.run("test-flaky"),
                                    {"succeeded_on_attempt": 1})
        self.assertEqual([c.get("ops") for c in run["calls"][:2]],
                         [["StepError"], ["StepRun"]])
        self.assertEqual(run["calls"][0]["no_retry"], "false")
        self.assertEqual(run["calls"][1]["attempt"], 1)

    def test_non_retriable_step_error_fails_the_run(self):
        run = self.ex.run("test-fatal")
        self.assertEqual(run["status"], "failed", run)
        self.assertEqual([c["status"] for c in run["calls"]], [206, 400])
        self.assertEqual(run["calls"][0]["ops"], ["StepFailed"])
        self.assertEqual(run["calls"][0]["no_retry"], "true")
        self.assertEqual(run["calls"][1]["no_retry"], "true")
        self.assertEqual(run["error"]["name"], "ValidationError")

    def test_non_retriable_function_error_is_not_retried(self):
        run = self.ex.run("test-fatal", {"where": "function"})
        self.assertEqual(run["status"], "failed", run)
        self.assertEqual(len(run["calls"]), 1)
        self.assertEqual(run["calls"][0]["status"], 400)
        self.assertEqual(run["error"]["name"], "FatalError")

    def test_sleep_suspends_the_run(self):
        t0 = time.time()
        run = self.assert_completed(self.ex.run("test-sleep",
                                                {"duration": "1s"}),
                                    {"steps": ["before", "after"]})
        self.assertGreaterEqual(time.time() - t0, 0.9)
        self.assertIn(["Sleep"], [c.get("ops") for c in run["calls"]])

    def test_parallel_steps_run_in_their_own_calls(self):
        run = self.assert_completed(self.ex.run("test-parallel"),
                                    {"joined": ["left", "right"]})
        self.assertEqual(run["calls"][0]["ops"],
                         ["StepPlanned", "StepPlanned"])
        targeted = {c["step_id"] for c in run["calls"]}
        self.assertIn(ix.step_hash("left"), targeted)
        self.assertIn(ix.step_hash("right"), targeted)

    def test_wait_for_event_times_out(self):
        run = self.assert_completed(self.ex.run(
            "test-wait", {"id": 1, "timeout": "1s"}),
            {"matched": False, "approver": None})
        self.assertIn(["WaitForEvent"], [c.get("ops") for c in run["calls"]])

    def test_wait_for_event_matches(self):
        run_id = self.ex.start("test-wait", {"id": 42, "timeout": "30s"})
        harness.wait_until(lambda: self.ex.get(
            "/test/runs/" + run_id)["waiting"], 10, what="the wait")
        # A non-matching event first: the expression filters it out.
        self.ex.send("omni/test.approve", {"id": 7, "approver": "eve"})
        self.ex.send("omni/test.approve", {"id": 42, "approver": "ann"})
        self.assert_completed(self.ex.wait(run_id),
                              {"matched": True, "approver": "ann"})

    def test_send_event_step_reaches_inngest(self):
        run = self.assert_completed(self.ex.run("test-send"))
        self.assertEqual(len(run["output"]["ids"]), 1)
        sent = [e for e in self.ex.get("/test/events")["events"]
                if e["name"] == "omni/test.sent"]
        self.assertIn(run["output"]["ids"][0], [e["id"] for e in sent])

    def test_invoke_waits_for_the_child(self):
        self.assert_completed(self.ex.run("test-invoke"), {
            "child": {"steps": ["first", "second", "third"]}})

    def test_signature_over_canonical_body_accepted(self):
        self.ex.config(sign_canonical=True)
        self.assert_completed(self.ex.run("test-three-steps"))

    def test_use_api_fetches_the_payload(self):
        self.ex.config(use_api=True)
        self.assert_completed(self.ex.run("test-three-steps"),
                              {"steps": ["first", "second", "third"]})

    def test_bad_signature_is_refused(self):
        self.ex.config(bad_signature=True)
        run = self.ex.run("test-three-steps")
        # 401 without X-Inngest-No-Retry: retried until attempts run out,
        # as the real server does, and no step ever ran.
        self.assertEqual(run["status"], "failed", run)
        self.assertEqual([c["status"] for c in run["calls"]], [401] * 4)
        self.assertEqual(run["steps"], {})
        r = self.signed_post("fnId=omni-test-three-steps&stepId=step",
                             {"event": {"name": "x", "data": {}}},
                             key="signkey-test-00")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json(), {"message": "Unauthorized"})
        r = self.stack.request("POST", "/api/inngest?fnId=omni-test-flaky",
                               body=b"{}", headers={
                                   "Content-Type": "application/json"})
        self.assertEqual(r.status, 401)
        self.assertTrue(r.header("X-Inngest-Sdk").startswith(
            SDK_HEADER_PREFIX))
        self.assertEqual(r.header("X-Inngest-Req-Version"), "2")

    def test_expired_signature_is_refused(self):
        r = self.signed_post("fnId=omni-test-three-steps",
                             {"event": {"name": "x", "data": {}}},
                             ts=time.time() - 600)
        self.assertEqual(r.status, 401)
        r = self.signed_post("fnId=omni-test-three-steps",
                             {"event": {"name": "x", "data": {}}},
                             ts=time.time() + 600)
        self.assertEqual(r.status, 401)

    def test_fallback_key_is_accepted(self):
        r = self.signed_post("fnId=omni-test-three-steps&stepId=step",
                             {"event": {"name": "x", "data": {}},
                              "steps": {}, "ctx": {"run_id": "direct"}},
                             key=FALLBACK)
        self.assertEqual(r.status, 206, r.text)
        self.assertEqual(r.json()[0]["op"], "StepRun")

    def test_unknown_fn_id_is_refused(self):
        r = self.signed_post("fnId=omni-no-such-fn&stepId=step",
                             {"event": {"name": "x", "data": {}}})
        self.assertEqual(r.status, 500)
        self.assertIsNone(r.header("X-Inngest-No-Retry"))
        self.assertEqual(r.json()["message"],
                         "function not found: omni-no-such-fn")

    def test_introspection(self):
        r = self.stack.request("GET", "/api/inngest")
        self.assertEqual(r.status, 200)
        body = r.json()
        public = {"authentication_succeeded", "function_count",
                  "has_event_key", "has_signing_key",
                  "has_signing_key_fallback", "mode", "schema_version"}
        self.assertEqual(set(body), public)
        self.assertIsNone(body["authentication_succeeded"])
        self.assertEqual(body["mode"], "cloud")
        # Omni's two functions and the ten test functions.
        self.assertEqual(body["function_count"], 12)
        self.assertEqual(body["schema_version"], "2024-05-24")
        r = self.stack.request("GET", "/api/inngest", headers={
            "X-Inngest-Signature": ix.sign(KEY, b"")})
        body = r.json()
        self.assertEqual(set(body), public | {
            "api_origin", "app_id", "capabilities", "env",
            "event_api_origin", "event_key_hash", "framework",
            "sdk_language", "sdk_version", "serve_origin", "serve_path",
            "signing_key_fallback_hash", "signing_key_hash"})
        self.assertIs(body["authentication_succeeded"], True)
        self.assertEqual(body["app_id"], "omni")
        self.assertEqual(body["signing_key_hash"],
                         ix.hash_signing_key(KEY)[len("signkey-test-"):][:12])
        self.assertEqual(body["signing_key_fallback_hash"],
                         ix.hash_signing_key(FALLBACK)[13:25])

    def test_other_methods_get_405(self):
        r = self.stack.request("DELETE", "/api/inngest")
        self.assertEqual(r.status, 405)


class InngestNginxTests(InngestCoreTests, unittest.TestCase):
    FRONT = "nginx"


class InngestCaddyTests(InngestCoreTests, unittest.TestCase):
    FRONT = "caddy"


if __name__ == "__main__":
    unittest.main()
