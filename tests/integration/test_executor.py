"""The local executor (build/omni-executor) driving Omni through nginx.

The real executor plays the Inngest server in cloud mode: Omni verifies
every call's signature, the executor checks the sync's bearer key, and
the executor triggers the sync itself (a signed PUT at start).  Runs,
steps, the queue and timers are in SQLite under the test's run directory,
so the tests can kill the executor and start it again on the same file.

The functions are the test functions of app/functions/testing.c.  Only
127.0.0.1 is used; every wait is bounded; processes are stopped by PID.
"""

import json
import os
import signal
import sys
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fakes"))
import harness  # noqa: E402
import inngest_executor as ix  # noqa: E402  (protocol helpers only)

KEY = "signkey-local-" + "a1b2c3d4" * 8
EVENT_KEY = "executor-it-key"
RUN_TIMEOUT = 40.0  # generous: the suite also runs under ASan


def executor_bin():
    """build/omni-executor beside the omni-fcgi under test."""
    return os.environ.get("OMNI_EXECUTOR_BIN") or os.path.join(
        os.path.dirname(harness.omni_bin()), "omni-executor")


class RealExecutor:
    """build/omni-executor as a subprocess on its own SQLite file."""

    def __init__(self, run_dir, app_url, port=None):
        self.port = port or harness.free_port()
        self.db = os.path.join(run_dir, "executor.sqlite")
        self.log_dir = os.path.join(run_dir, "logs")
        os.makedirs(self.log_dir, exist_ok=True)
        self.app_url = app_url
        self.proc = None
        self.starts = 0

    def start(self):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "INNGEST_SIGNING_KEY": KEY,
            "INNGEST_EVENT_KEY": EVENT_KEY,
            "OMNI_EXECUTOR_PORT": str(self.port),
            "OMNI_EXECUTOR_DB": self.db,
            "OMNI_EXECUTOR_APP_URL": self.app_url,
            "OMNI_EXECUTOR_RETRY_BASE_MS": "50",
            "OMNI_EXECUTOR_RETRY_MAX_MS": "400",
            "OMNI_EXECUTOR_CALL_TIMEOUT_MS": "20000",
        }
        env.update({k: v for k, v in os.environ.items()
                    if k.endswith("SAN_OPTIONS")})
        self.starts += 1
        self.proc = harness.spawn([executor_bin()], "executor-%d"
                                  % self.starts, self.log_dir, env=env)
        harness.wait_until(self._up, 15, what="omni-executor")
        return self

    def _up(self):
        if not self.proc.alive():
            raise harness.StopWaiting(self.proc.log())
        try:
            return self.get("/health")[0] == 200
        except OSError:
            return False

    def sanitizer_errors(self):
        """ASan/UBSan reports in every executor log of this test class
        (the ASan build runs an ASan executor)."""
        lines = []
        for n in range(1, self.starts + 1):
            path = os.path.join(self.log_dir, "executor-%d.log" % n)
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            lines += [line for line in text.splitlines()
                      if any(m in line for m in harness.SANITIZER_MARKS)]
        return lines

    def synced(self):
        return any(e.get("event") == "executor_app_synced"
                   for e in self.proc.events())

    @property
    def origin(self):
        return "http://127.0.0.1:%d" % self.port

    def call(self, method, path, body=None, headers=None, timeout=15):
        data = body if isinstance(body, bytes) or body is None else \
            json.dumps(body).encode()
        req = urllib.request.Request(self.origin + path, data=data,
                                     method=method, headers=dict(
                                         {"Content-Type": "application/json"},
                                         **(headers or {})))
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw = r.read()
                status, ctype = r.status, r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
            ctype = e.headers.get("Content-Type", "")
        if ctype.startswith("application/json") and raw:
            return status, json.loads(raw)
        return status, raw.decode("utf-8", "replace")

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def send(self, events, key=EVENT_KEY):
        status, body = self.call("POST", "/e/" + key, events)
        if status != 200:
            raise AssertionError("events refused: %s %s" % (status, body))
        return body["ids"]

    def runs(self):
        return self.get("/runs")[1]

    def run(self, run_id):
        return self.get("/runs/" + run_id)[1]

    def run_for(self, event_id, fn=None):
        def found():
            hits = [r for r in self.runs() if r["event_id"] == event_id
                    and (fn is None or r["function_id"] == fn)]
            return hits[0]["run_id"] if hits else None
        return harness.wait_until(found, 10, what="run for " + event_id)

    def wait(self, run_id, timeout=RUN_TIMEOUT, status=None):
        def done():
            r = self.run(run_id)
            if status is not None:
                return r if r["status"] == status else None
            return r if r["status"] != "running" else None
        return harness.wait_until(done, timeout, interval=0.1,
                                  what="run %s" % run_id)

    def start_run(self, name, data=None):
        ids = self.send({"name": "omni/" + name, "data": data or {}})
        return self.run_for(ids[0])

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None:
            self.proc.stop(sig)


class ExecutorMixin:
    FRONT = "nginx"

    @classmethod
    def extra_env(cls):
        """More of the pool's environment (subclasses: their provider,
        their agent)."""
        return {}

    @classmethod
    def extra_stop(cls):
        """Stop what extra_env() started."""

    @classmethod
    def setUpClass(cls):
        port = harness.free_port()
        env = {
            "INNGEST_SERVE_ORIGIN": "http://127.0.0.1:%d" % port,
            "INNGEST_DEV": "0",
            "INNGEST_SIGNING_KEY": KEY,
            "INNGEST_EVENT_KEY": EVENT_KEY,
            "INNGEST_APP_ID": "omni",
            "OMNI_EVENT_PREFIX": "omni",
        }
        try:
            env.update(cls.extra_env())
        except BaseException:
            cls.extra_stop()
            raise
        cls.stack = harness.Stack(front=cls.FRONT, port=port, env=env)
        cls.ex = RealExecutor(cls.stack.run_dir, "http://127.0.0.1:%d"
                              "/api/inngest" % port)
        try:
            # The executor first: it keeps trying the sync until the
            # pool answers, as under `make run`.
            cls.ex.start()
            for var in ("INNGEST_API_ORIGIN", "INNGEST_EVENT_API_ORIGIN"):
                cls.stack.env[var] = cls.ex.origin
            cls.stack.start()
            harness.wait_until(cls.ex.synced, 30, what="the start-up sync")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        # The executor first: its database lives in the stack's directory.
        errors = []
        if getattr(cls, "ex", None) is not None:
            cls.ex.stop()
            errors = cls.ex.sanitizer_errors()  # LeakSanitizer at exit
        if getattr(cls, "stack", None) is not None:
            cls.stack.stop()
        cls.extra_stop()
        if errors:
            raise AssertionError("executor sanitizer reports:\n" +
                                 "\n".join(errors[:20]))

    def tearDown(self):
        errors = self.stack.sanitizer_errors() + self.ex.sanitizer_errors()
        self.assertEqual(errors, [], "\n".join(errors))

    def completed(self, run, output=None):
        self.assertEqual(run["status"], "completed",
                         json.dumps(run, indent=1)[:3000])
        if output is not None:
            self.assertEqual(run["output"], output)
        return run

    @staticmethod
    def step_calls(run, step):
        return [c for c in run["calls"] if c["step"] == ix.step_hash(step)]

    @staticmethod
    def ops_for(run, step, op):
        h = ix.step_hash(step)
        return [c for c in run["calls"] for o in c["ops"]
                if o["id"] == h and o["op"] == op]


class ExecutorRunTests(ExecutorMixin):
    def test_three_steps_run_to_completion(self):
        run = self.completed(self.ex.wait(self.ex.start_run(
            "test.three-steps")), {"steps": ["first", "second", "third"]})
        self.assertEqual([c["http_status"] for c in run["calls"]],
                         [206, 206, 206, 200])
        self.assertEqual([s["id"] for s in run["steps"]],
                         [ix.step_hash(n) for n in ("first", "second",
                                                     "third")])
        self.assertEqual([s["data"] for s in run["steps"]],
                         ["first", "second", "third"])

    def test_step_failing_twice_then_succeeding(self):
        run = self.completed(self.ex.wait(self.ex.start_run(
            "test.flaky", {"failures": 2})), {"succeeded_on_attempt": 2})
        errors = self.ops_for(run, "flaky", "StepError")
        self.assertEqual([c["attempt"] for c in errors], [0, 1])
        self.assertEqual([c["attempt"] for c in
                          self.ops_for(run, "flaky", "StepRun")], [2])
        # Backoff: each retry waited at least half its delay (50, 100 ms).
        ends = [c["started_at"] + c["duration_ms"] for c in errors]
        retried = self.step_calls(run, "flaky")
        self.assertGreaterEqual(retried[0]["started_at"] - ends[0], 25)
        self.assertGreaterEqual(retried[1]["started_at"] - ends[1], 50)

    def test_non_retriable_step_error_fails_the_run(self):
        run = self.ex.wait(self.ex.start_run("test.fatal"))
        self.assertEqual(run["status"], "failed", run)
        self.assertEqual(run["error"]["name"], "ValidationError")
        self.assertEqual(len(self.ops_for(run, "validate", "StepFailed")), 1)
        self.assertEqual(self.ops_for(run, "validate", "StepError"), [])
        self.assertEqual([c["attempt"] for c in run["calls"]], [0, 0])

    def test_no_retry_header_fails_the_function_at_once(self):
        run = self.ex.wait(self.ex.start_run("test.fatal",
                                             {"where": "function"}))
        self.assertEqual(run["status"], "failed", run)
        self.assertEqual(len(run["calls"]), 1)
        self.assertEqual(run["calls"][0]["http_status"], 400)
        self.assertEqual(run["calls"][0]["outcome"], "failed")

    def test_sleep_waits_its_duration(self):
        run = self.completed(self.ex.wait(self.ex.start_run(
            "test.sleep", {"duration": "1500ms"})),
            {"steps": ["before", "after"]})
        slept = [c for c in run["calls"]
                 if any(o["op"] == "Sleep" for o in c["ops"])]
        self.assertEqual(len(slept), 1)
        woke = run["calls"][run["calls"].index(slept[0]) + 1]
        self.assertGreaterEqual(woke["started_at"] - slept[0]["started_at"],
                                1500)

    def test_sleep_until_a_time(self):
        until = time.time() + 1.5
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(until)) + \
            ".%03dZ" % (int(until * 1000) % 1000)
        run = self.completed(self.ex.wait(self.ex.start_run(
            "test.sleep", {"duration": stamp})),
            {"steps": ["before", "after"]})
        after = self.ops_for(run, "after", "StepRun")[0]
        self.assertGreaterEqual(after["started_at"], int(until * 1000))

    def test_parallel_steps_each_run_in_their_own_call(self):
        run = self.completed(self.ex.wait(self.ex.start_run(
            "test.parallel")), {"joined": ["left", "right"]})
        for name in ("left", "right"):
            self.assertEqual(len(self.ops_for(run, name, "StepPlanned")), 1)
            self.assertEqual([o["op"] for c in self.step_calls(run, name)
                              for o in c["ops"]], ["StepRun"])

    def test_wait_for_event_matched_by_a_later_event(self):
        run_id = self.ex.start_run("test.wait", {"id": "w-1",
                                                  "timeout": "30s"})
        harness.wait_until(lambda: self.ex.run(run_id)["waiting"], 10,
                           what="the wait")
        # Another id does not match; the right one does.
        self.ex.send([{"name": "omni/test.approve",
                       "data": {"id": "w-other", "approver": "mallory"}},
                      {"name": "omni/test.approve",
                       "data": {"id": "w-1", "approver": "ada"}}])
        run = self.completed(self.ex.wait(run_id, timeout=10),
                             {"matched": True, "approver": "ada"})
        self.assertEqual(run["waiting"], [])

    def test_wait_for_event_times_out_with_null(self):
        t0 = time.time()
        run = self.completed(self.ex.wait(self.ex.start_run(
            "test.wait", {"id": "w-2", "timeout": "1s"})),
            {"matched": False, "approver": None})
        self.assertGreaterEqual(time.time() - t0, 1.0)

    def test_invoke_returns_the_child_result(self):
        run = self.completed(self.ex.wait(self.ex.start_run("test.invoke")),
                             {"child": {"steps": ["first", "second",
                                                  "third"]}})
        children = [r for r in self.ex.runs()
                    if r["event_name"] == "inngest/function.invoked"
                    and self.ex.run(r["run_id"])["parent_run_id"] ==
                    run["run_id"]]
        self.assertEqual(len(children), 1)
        self.assertEqual(children[0]["status"], "completed")

    def test_send_event_from_a_step(self):
        run = self.completed(self.ex.wait(self.ex.start_run("test.send")))
        self.assertEqual(len(run["output"]["ids"]), 1)

    def test_cancel_on_event_stops_only_the_matching_run(self):
        a = self.ex.start_run("test.cancellable", {"id": "c-a"})
        b = self.ex.start_run("test.cancellable", {"id": "c-b"})
        for r in (a, b):
            harness.wait_until(lambda: self.ex.run(r)["sleeping"], 10,
                               what="the nap")
        self.ex.send({"name": "omni/test.cancel", "data": {"id": "c-a"}})
        self.assertEqual(self.ex.wait(a, timeout=10)["status"], "cancelled")
        self.assertEqual(self.ex.run(b)["status"], "running")
        self.ex.send({"name": "omni/test.cancel", "data": {"id": "c-b"}})
        run = self.ex.wait(b, timeout=10)
        self.assertEqual(run["status"], "cancelled")
        self.assertEqual(run["sleeping"], [])
        self.assertEqual(self.step_calls(run, "after"), [])

    def test_concurrency_limit_serialises_steps(self):
        ids = self.ex.send([{"name": "omni/test.serial", "data": {"ms": 300}}
                            for _ in range(3)])
        runs = [self.completed(self.ex.wait(self.ex.run_for(i)))
                for i in ids]
        spans = sorted((r["output"]["start_ms"], r["output"]["end_ms"])
                       for r in runs)
        for (_, end), (start, _) in zip(spans, spans[1:]):
            self.assertGreaterEqual(start, end, spans)

    def test_hundred_runs_started_at_once_all_complete(self):
        ids = self.ex.send([{"name": "omni/test.three-steps",
                             "data": {"n": i}} for i in range(100)])
        self.assertEqual(len(set(ids)), 100)
        deadline = time.time() + 90

        def all_done():
            mine = [r for r in self.ex.runs() if r["event_id"] in ids]
            return mine if len(mine) == 100 and all(
                r["status"] != "running" for r in mine) else None
        runs = harness.wait_until(all_done, deadline - time.time(),
                                  interval=0.25, what="100 runs")
        self.assertEqual({r["status"] for r in runs}, {"completed"})

    def test_a_repeated_event_id_starts_nothing_again(self):
        ev = {"name": "omni/test.three-steps", "id": "idem-1", "data": {}}
        self.assertEqual(self.ex.send(ev), ["idem-1"])
        self.ex.wait(self.ex.run_for("idem-1"))
        self.assertEqual(self.ex.send(ev), ["idem-1"])
        time.sleep(0.3)
        self.assertEqual(len([r for r in self.ex.runs()
                              if r["event_id"] == "idem-1"]), 1)

    def test_each_transition_is_one_log_line(self):
        run_id = self.ex.start_run("test.three-steps")
        self.completed(self.ex.wait(run_id))
        lines = [e for e in self.ex.proc.events()
                 if e.get("event") == "run_transition"
                 and e.get("run_id") == run_id]
        self.assertEqual([(e["from"], e["to"]) for e in lines],
                         [(None, "running"), ("running", "completed")])
        self.assertEqual(lines[0]["function_id"], "omni-test-three-steps")


class ExecutorInputTests(ExecutorMixin):
    """Bad input: a clear 400 (401 for keys) and nothing stored."""

    BAD_EVENTS = [
        (b"not json", "not JSON"),
        (b"[]", "array of 1 to 1000"),
        (b"42", "an event or an array"),
        (b'[{"name": "omni/x"}, 7]', "event 1 is not an object"),
        (b'{"data": {}}', "has no name"),
        (b'{"name": ""}', "empty"),
        (b'{"name": "omni/x", "data": [1]}', "data that is not an object"),
        (b'{"name": "omni/x", "id": 5}', "id"),
        (b'{"name": "omni/x", "ts": -1}', "ts"),
        (b'{"name": "inngest/function.invoked"}', "reserved"),
        (b'{"name": "omni/x", "data": {"n": NaN}}', "not JSON"),
        (b'{"name": "omni/test.three-steps", "data": {"x": "a\\u0000b"}} ',
         None),
    ]

    def test_malformed_events_are_refused_and_nothing_is_stored(self):
        before = len(self.ex.runs())
        for body, words in self.BAD_EVENTS:
            if words is None:
                continue
            # The bad one last, after a valid event: all or nothing.
            batch = b'[{"name": "omni/test.three-steps"}, ' + body + b"]" \
                if body.startswith(b"{") else body
            status, answer = self.ex.call("POST", "/e/" + EVENT_KEY, batch)
            self.assertEqual(status, 400, (body, answer))
            self.assertIn(words, answer["error"], body)
        time.sleep(0.3)
        self.assertEqual(len(self.ex.runs()), before)

    def test_a_wrong_event_key_is_401(self):
        status, answer = self.ex.call("POST", "/e/wrong-key",
                                      {"name": "omni/test.three-steps"})
        self.assertEqual(status, 401)
        self.assertIn("event key", answer["error"])

    def test_a_nul_inside_event_data_is_kept_whole(self):
        run = self.completed(self.ex.wait(self.ex.run_for(self.ex.send(
            {"name": "omni/test.three-steps", "data": {"x": "a\x00b"}})[0])))
        self.assertEqual(run["event"]["data"]["x"], "a\x00b")

    def register(self, body, auth=True):
        headers = {}
        if auth:
            headers["Authorization"] = "Bearer " + ix.hash_signing_key(KEY)
        return self.ex.call("POST", "/fn/register", body, headers=headers)

    def function(self, fid, **extra):
        fn = {"id": fid, "name": fid,
              "triggers": [{"event": "omni/test.unregistered"}],
              "steps": {"step": {"id": "step", "name": "step", "runtime": {
                  "type": "http", "url": self.ex.app_url + "?fnId=" + fid +
                  "&stepId=step"}}}}
        fn.update(extra)
        return fn

    def test_malformed_registrations_are_refused_and_nothing_is_stored(self):
        url = self.ex.app_url
        good = self.function("omni-it-good")
        cases = [
            ({"url": url, "functions": [good]}, False, 401, "signing key"),
            (b"{not json", True, 400, "not a JSON object"),
            ({"functions": [good]}, True, 400, "url"),
            ({"url": url, "functions": {}}, True, 400, "functions"),
            ({"url": url, "functions": [good, self.function(
                "omni-it-bad", triggers=[{"event": "omni/x", "expression":
                                          "event.data.a.startsWith('x')"}])]},
             True, 400, "column"),
            ({"url": url, "functions": [good, self.function(
                "omni-it-bad", triggers=[{"event": "omni/x", "expression":
                                          "event.data.a in [1, 2]"}])]},
             True, 400, "not supported"),
            ({"url": url, "functions": [self.function(
                "omni-it-bad", triggers=[{"cron": "* * * * *"}])]},
             True, 400, "cron"),
            ({"url": url, "functions": [self.function(
                "omni-it-bad", throttle={"limit": 1, "period": "1m"})]},
             True, 400, "throttle"),
            ({"url": url, "functions": [good, good]}, True, 400, "repeats"),
            ({"url": url, "functions": [self.function(
                "omni-it-bad", cancel=[{"event": "omni/x", "if":
                                        "event.data.a == "}])]},
             True, 400, "cancel condition"),
        ]
        for body, auth, status, words in cases:
            got, answer = self.register(body, auth)
            self.assertEqual(got, status, (body, answer))
            self.assertIn(words, answer["error"], body)
        # The app's functions are untouched: they still run, and the
        # refused ones do not exist.
        self.completed(self.ex.wait(self.ex.start_run("test.three-steps")))
        before = len(self.ex.runs())
        self.ex.send({"name": "omni/test.unregistered"})
        time.sleep(0.3)
        self.assertEqual(len(self.ex.runs()), before)


class ExecutorPageTests(ExecutorMixin):
    """The HTML pages as Chromium renders them."""

    def setUp(self):
        # Chromium is a test dependency (scripts/deps.sh): missing, the
        # test fails rather than skips.
        import chromium_dom
        self.dom = chromium_dom.dump_dom

    def test_runs_list_and_run_timeline_render(self):
        hostile = "<script>alert('x')</script>&\"q\""
        run = self.completed(self.ex.wait(self.ex.run_for(self.ex.send(
            {"name": "omni/test.three-steps",
             "data": {"note": hostile}})[0])))
        listing = self.dom(self.ex.origin + "/runs")
        self.assertIn('id="runs"', listing)
        self.assertIn(run["run_id"], listing)
        self.assertEqual(listing.count('class="run"'),
                         min(len(self.ex.runs()), 200))
        page = self.dom(self.ex.origin + "/runs/" + run["run_id"])
        self.assertIn("omni-test-three-steps", page)
        self.assertEqual(page.count('class="call"'), len(run["calls"]))
        # The hostile text is shown as text, never as markup.
        self.assertNotIn("<script>alert", page)
        self.assertIn("&lt;script&gt;alert", page)
        # JSON for anything that does not ask for HTML.
        status, body = self.ex.get("/runs/" + run["run_id"])
        self.assertEqual(status, 200)
        self.assertEqual(body["event"]["data"]["note"], hostile)


class ExecutorRestartTests(ExecutorMixin):
    """Durability: the executor killed and started again, the pool
    restarted while runs are in flight."""

    def test_killed_mid_run_resumes_without_repeating_a_step(self):
        run_id = self.ex.start_run("test.sleep", {"duration": "3s"})
        harness.wait_until(lambda: self.ex.run(run_id)["sleeping"], 10,
                           what="the nap")
        woke_at = self.ex.run(run_id)["sleeping"][0]["until"]
        self.ex.stop(signal.SIGKILL)
        self.ex.start()
        run = self.completed(self.ex.wait(run_id),
                             {"steps": ["before", "after"]})
        for name in ("before", "after"):
            self.assertEqual(len(self.ops_for(run, name, "StepRun")), 1)
        after = self.ops_for(run, "after", "StepRun")[0]
        self.assertGreaterEqual(after["started_at"], woke_at)
        self.assertEqual(len([r for r in self.ex.runs()
                              if r["run_id"] == run_id]), 1)

    def test_killed_during_a_call_makes_it_again(self):
        run_id = self.ex.start_run("test.serial", {"ms": 1500})
        time.sleep(0.5)  # the call is in flight (the step takes 1.5 s)
        self.ex.stop(signal.SIGKILL)
        self.ex.start()
        run = self.completed(self.ex.wait(run_id))
        self.assertEqual(len(self.ops_for(run, "work", "StepRun")), 1)

    def test_pool_restarted_mid_run_still_completes(self):
        run_id = self.ex.start_run("test.sleep", {"duration": "3s"})
        harness.wait_until(lambda: self.ex.run(run_id)["sleeping"], 10,
                           what="the nap")
        self.stack.restart_pool()
        run = self.completed(self.ex.wait(run_id),
                             {"steps": ["before", "after"]})
        self.assertEqual(len(self.ops_for(run, "before", "StepRun")), 1)


class ExecutorCaddyTests(ExecutorMixin):
    FRONT = "caddy"

    def test_three_steps_through_caddy(self):
        self.completed(self.ex.wait(self.ex.start_run("test.three-steps")),
                       {"steps": ["first", "second", "third"]})


class ExecutorStartupTests(unittest.TestCase):
    """Configuration errors stop the executor with one line (exit 78);
    a second executor is refused the database the first one holds."""

    def run_bad(self, **env):
        import subprocess
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "INNGEST_SIGNING_KEY": KEY, "INNGEST_EVENT_KEY": "k",
                    "OMNI_DATA_DIR": d,
                    "OMNI_EXECUTOR_PORT": str(harness.free_port())}
            base.update({k: v for k, v in env.items() if v is not None})
            for k in [k for k, v in env.items() if v is None]:
                del base[k]
            p = subprocess.run([executor_bin()], env=base, timeout=20,
                               stdin=subprocess.DEVNULL,
                               capture_output=True, text=True)
        return p.returncode, p.stderr

    def test_configuration_errors_name_the_variable(self):
        for env, var in (({"INNGEST_SIGNING_KEY": None},
                          "INNGEST_SIGNING_KEY"),
                         ({"INNGEST_SIGNING_KEY": "not-a-key"},
                          "INNGEST_SIGNING_KEY"),
                         ({"INNGEST_EVENT_KEY": ""}, "INNGEST_EVENT_KEY"),
                         ({"OMNI_EXECUTOR_PORT": "http"},
                          "OMNI_EXECUTOR_PORT"),
                         ({"OMNI_EXECUTOR_HOST": "0.0.0.0"},
                          "OMNI_EXECUTOR_HOST"),
                         ({"OMNI_EXECUTOR_APP_URL": "ftp://x"},
                          "OMNI_EXECUTOR_APP_URL"),
                         ({"OMNI_EXECUTOR_WORKERS": "0"},
                          "OMNI_EXECUTOR_WORKERS"),
                         ({"OMNI_DATA_DIR": None}, "OMNI_DATA_DIR")):
            rc, err = self.run_bad(**env)
            self.assertEqual(rc, 78, (env, err))
            lines = [ln for ln in err.splitlines() if ln.strip()]
            self.assertEqual(len(lines), 1, err)
            self.assertIn(var, lines[0])

    def test_a_second_executor_on_the_same_database_is_refused(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            first = RealExecutor(d, "").start()
            try:
                second = RealExecutor(d, "")
                with self.assertRaises((harness.StopWaiting,
                                        TimeoutError, RuntimeError)):
                    second.start()
                self.assertIn("locked", second.proc.log())
                self.assertEqual(first.get("/health")[0], 200)
            finally:
                first.stop()
                if second.proc is not None:
                    second.stop()


for _cls in (ExecutorRunTests, ExecutorInputTests, ExecutorPageTests,
             ExecutorRestartTests, ExecutorCaddyTests):
    globals()[_cls.__name__] = type(_cls.__name__, (_cls, unittest.TestCase),
                                    {})

if __name__ == "__main__":
    unittest.main()
