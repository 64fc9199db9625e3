"""Foundation integration tests: the real binary behind real nginx and Caddy.

Every behaviour is checked through both front servers (one TestCase class
per front, sharing the FoundationTests mixin), with configurations rendered
by scripts/render-front.py from nginx/omni.conf and caddy/Caddyfile.
Only 127.0.0.1 is used; every loop is bounded in count and time.
"""

import collections
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import http.client
import json

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ALLOWED = "https://app.example.com"
MAX_BODY = 65536
REQUEST_TIMEOUT = 20.0  # generous: the suite also runs under ASan


def assert_error_shape(tc, resp, status, code):
    """The contract's error model: {"error":{"code","message","details"}}."""
    tc.assertEqual(resp.status, status, resp)
    tc.assertTrue(resp.header("Content-Type", "").startswith(
        "application/json"), resp)
    tc.assertTrue(resp.header("X-Request-Id"), resp)
    body = resp.json()
    tc.assertEqual(set(body), {"error"}, body)
    err = body["error"]
    tc.assertEqual(err.get("code"), code, body)
    tc.assertIsInstance(err.get("message"), str, body)
    tc.assertTrue(err["message"], body)
    tc.assertIn("details", err, body)
    return err


def json_of_size(size):
    """A JSON object serialised to exactly 'size' bytes."""
    head = b'{"pad":"'
    tail = b'"}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


class FoundationTests(harness.SharedStack):
    """Mixin: the tests; subclasses set FRONT."""


    STACK_ARGS = {"env": {
        "OMNI_ALLOWED_ORIGINS": ALLOWED,
        "OMNI_MAX_BODY": str(MAX_BODY),
    }}

    def own_stack(self, **kw):
        """A stack for one test (signals, kills); stopped at cleanup."""
        stack = harness.Stack(self.FRONT, **kw)
        self.addCleanup(stack.stop_checked)
        return stack.start()

    # -- health and shapes --

    def test_root_is_ok(self):
        r = self.stack.get("/")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"status": "ok"})
        self.assertTrue(r.header("Content-Type").startswith(
            "application/json"))
        self.assertTrue(r.header("X-Request-Id"))
        # libfcgi's CGI "Status:" line is not passed on as a header.
        self.assertIsNone(r.header("Status"), r)

    def test_ready_reports_checks(self):
        r = self.stack.get("/ready")
        self.assertIn(r.status, (200, 503), r)
        body = r.json()
        self.assertIn("checks", body, body)

    def test_unknown_path_is_404(self):
        assert_error_shape(self, self.stack.get("/no/such/thing"), 404,
                           "NOT_FOUND")

    def test_wrong_method_is_405_with_allow(self):
        r = self.stack.request("DELETE", "/")
        assert_error_shape(self, r, 405, "METHOD_NOT_ALLOWED")
        allow = [m.strip() for m in r.header("Allow", "").split(",")]
        self.assertIn("GET", allow, r)
        self.assertNotIn("DELETE", allow, r)

    def test_body_over_limit_is_413_from_front(self):
        r = self.stack.request("POST", "/debug/echo",
                               body=json_of_size(MAX_BODY + 1),
                               headers={"Content-Type": "application/json"})
        assert_error_shape(self, r, 413, "PAYLOAD_TOO_LARGE")

    def test_chunked_body_over_limit_is_413(self):
        r = self.stack.request("POST", "/debug/echo",
                               body=json_of_size(4 * MAX_BODY),
                               headers={"Content-Type": "application/json"},
                               chunked=True)
        assert_error_shape(self, r, 413, "PAYLOAD_TOO_LARGE")

    def test_body_at_limit_reaches_omni(self):
        # The front's limit equals OMNI_MAX_BODY: exactly the limit passes.
        body = json_of_size(MAX_BODY)
        r = self.stack.request("POST", "/debug/echo", body=body,
                               headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json()["pad"]), MAX_BODY - 10)

    def test_non_json_content_type_is_415(self):
        r = self.stack.request("POST", "/debug/echo", body="hello",
                               headers={"Content-Type": "text/plain"})
        assert_error_shape(self, r, 415, "UNSUPPORTED_MEDIA_TYPE")

    def test_malformed_json_is_400_with_details(self):
        r = self.stack.request("POST", "/debug/echo", body='{"a": ',
                               headers={"Content-Type": "application/json"})
        err = assert_error_shape(self, r, 400, "VALIDATION_ERROR")
        self.assertTrue(err["details"], err)

    def test_json_body_round_trips(self):
        doc = {"text": "caf\u00e9 \u2603", "n": [1, 2.5, None, True],
               "nested": {"k": "v"}}
        r = self.stack.post_json("/debug/echo", doc)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), doc)

    def test_chunked_json_body_round_trips(self):
        doc = {"chunked": "x" * 10000}
        r = self.stack.request("POST", "/debug/echo", body=doc,
                               chunked=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), doc)

    # -- request ids --

    def test_request_id_passed_through(self):
        rid = "it-%d-abc" % os.getpid()
        for method, path, body in (("GET", "/", None),
                                   ("GET", "/missing", None),
                                   ("POST", "/debug/echo", {"a": 1})):
            r = self.stack.request(method, path, body=body,
                                   headers={"X-Request-Id": rid})
            self.assertEqual(r.header("X-Request-Id"), rid, (path, r))

    def test_unacceptable_request_id_is_replaced(self):
        # Too long or with characters unfit for logs: a fresh id instead,
        # the same one from the front and from Omni.
        for bad in ("x" * 65, "a b", "<script>"):
            r = self.stack.get("/", headers={"X-Request-Id": bad})
            self.assertEqual(r.status, 200, r)
            rid = r.header("X-Request-Id")
            self.assertTrue(rid, r)
            self.assertNotEqual(rid, bad)
            self.assertEqual(r.header_list.count(("X-Request-Id", rid)) +
                             r.header_list.count(("x-request-id", rid)), 1,
                             r.header_list)

    def test_request_id_on_front_errors(self):
        rid = "front-error-%d" % os.getpid()
        r = self.stack.request("POST", "/debug/echo",
                               body=json_of_size(MAX_BODY + 1),
                               headers={"Content-Type": "application/json",
                                        "X-Request-Id": rid})
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.header("X-Request-Id"), rid, r)

    def test_request_id_generated_and_logged(self):
        ids = set()
        for _ in range(3):
            r = self.stack.get("/")
            rid = r.header("X-Request-Id")
            self.assertTrue(rid, r)
            ids.add(rid)
        self.assertEqual(len(ids), 3, ids)
        # The pool's log line for the request carries the same id.
        self.stack.wait_event(
            lambda line: line.get("event") == "request"
            and line.get("request_id") == rid, timeout=5)

    # -- CORS --

    def test_cors_allowed_origin(self):
        r = self.stack.get("/", headers={"Origin": ALLOWED})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ALLOWED, r)

    def test_cors_disallowed_origin(self):
        r = self.stack.get("/", headers={"Origin": "https://evil.example"})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.header("Access-Control-Allow-Origin"), r)

    def test_cors_preflight(self):
        r = self.stack.request("OPTIONS", "/debug/echo", headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ALLOWED, r)
        self.assertIn("POST", r.header("Access-Control-Allow-Methods", ""))
        self.assertTrue(r.header("X-Request-Id"), r)

    def test_cors_preflight_disallowed_origin(self):
        r = self.stack.request("OPTIONS", "/debug/echo", headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST"})
        self.assertIsNone(r.header("Access-Control-Allow-Origin"), r)

    # -- load --

    def test_500_concurrent_requests_all_answered(self):
        results = harness.parallel(500, lambda i: self.stack.get(
            "/", timeout=REQUEST_TIMEOUT).status, timeout=120)
        self.assertEqual(collections.Counter(results), {200: 500},
                         [r for r in results if r != 200][:5])

    def test_200_clients_with_a_slow_request_in_flight(self):
        # The keepalive sizing proof with the configuration as rendered:
        # while one request holds a thread, 200 clients whose requests
        # themselves take a little while (so the front opens many FastCGI
        # connections at once) are all answered, none by a timeout.
        slow = {}

        def run_slow():
            slow["resp"] = self.stack.get("/debug/sleep?ms=3000",
                                          timeout=REQUEST_TIMEOUT)

        t = threading.Thread(target=run_slow, daemon=True)
        t.start()
        time.sleep(0.3)
        started = time.monotonic()
        results = harness.parallel(200, lambda i: self.stack.get(
            "/debug/sleep?ms=20" if i % 2 else "/",
            timeout=REQUEST_TIMEOUT).status, timeout=120)
        elapsed = time.monotonic() - started
        t.join(REQUEST_TIMEOUT)
        self.assertEqual(collections.Counter(results), {200: 200},
                         [r for r in results if r != 200][:5])
        self.assertLess(elapsed, 15.0)
        self.assertEqual(slow["resp"].status, 200, slow)
        self.assertEqual(slow["resp"].json(), {"slept_ms": 3000})

    # -- process model (each on its own stack) --

    def test_sigterm_drains_in_flight_request(self):
        stack = self.own_stack(env={"OMNI_SHUTDOWN_TIMEOUT": "20"})
        slow = {}

        def run_slow():
            try:
                slow["resp"] = stack.get("/debug/sleep?ms=1500",
                                         timeout=REQUEST_TIMEOUT)
            except Exception as exc:  # noqa: BLE001
                slow["error"] = exc

        t = threading.Thread(target=run_slow, daemon=True)
        t.start()
        time.sleep(0.5)  # the request is now in a worker
        sent = time.monotonic()
        stack.pool.signal(signal.SIGTERM)
        code = stack.pool.wait(timeout=20)
        took = time.monotonic() - sent
        t.join(REQUEST_TIMEOUT)
        self.assertNotIn("error", slow, slow)
        self.assertEqual(slow["resp"].status, 200, slow)
        self.assertEqual(slow["resp"].json(), {"slept_ms": 1500})
        self.assertEqual(code, 0, stack.dump_logs())
        # Idle kept-alive connections must not hold the drain until
        # OMNI_SHUTDOWN_TIMEOUT.
        self.assertLess(took, 10.0, stack.dump_logs())
        events = [e.get("event") for e in stack.pool_events()]
        self.assertIn("drain", events)
        self.assertIn("stop", events)
        # With the pool gone the front answers 502 in the error model.
        assert_error_shape(self, stack.get("/"), 502, "UPSTREAM_ERROR")

    def test_sighup_reload_refuses_no_request(self):
        stack = self.own_stack()
        old = stack.wait_workers(2)
        failures, counts = [], collections.Counter()
        stop = threading.Event()

        def loop(i):
            deadline = time.monotonic() + 30
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    if i % 2:
                        r = stack.get("/", timeout=REQUEST_TIMEOUT)
                    else:
                        r = stack.post_json("/debug/echo", {"i": i},
                                            timeout=REQUEST_TIMEOUT)
                    counts[r.status] += 1
                    if r.status != 200:
                        failures.append(r)
                except Exception as exc:  # noqa: BLE001
                    failures.append(exc)

        threads = [threading.Thread(target=loop, args=(i,), daemon=True)
                   for i in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        since = len(stack.pool_events())
        stack.pool.signal(signal.SIGHUP)
        stack.wait_event("reload", timeout=10, since=since)

        def replaced():
            pids = stack.worker_pids()
            return len(pids) == 2 and not pids & old
        harness.wait_until(replaced, 20, what="all workers replaced")
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(REQUEST_TIMEOUT + 5)
        self.assertEqual(failures, [], stack.dump_logs())
        self.assertGreater(counts[200], 50, counts)

    def _env_file(self):
        d = tempfile.mkdtemp(prefix="omni-env-")
        self.addCleanup(shutil.rmtree, d, True)
        return os.path.join(d, "env")

    def _reload_with(self, stack, env_file, text):
        with open(env_file, "w") as f:
            f.write(text)
        since = len(stack.pool_events())
        stack.pool.signal(signal.SIGHUP)
        return since

    def test_sighup_rereads_the_env_file(self):
        env_file = self._env_file()
        with open(env_file, "w") as f:
            f.write("OMNI_ALLOWED_ORIGINS=http://first.test\n")
        stack = self.own_stack(pool_args=["--env-file", env_file])
        old = stack.wait_workers(2)
        allowed = stack.get("/", headers={"Origin": "http://second.test"})
        self.assertIsNone(allowed.header("Access-Control-Allow-Origin"))

        since = self._reload_with(stack, env_file,
                                  "OMNI_ALLOWED_ORIGINS=http://second.test\n")
        stack.wait_event("reload", timeout=10, since=since)
        harness.wait_until(lambda: not stack.worker_pids() & old, 20,
                           what="old workers retired")
        r = stack.get("/", headers={"Origin": "http://second.test"})
        self.assertEqual(r.header("Access-Control-Allow-Origin"),
                         "http://second.test")
        r = stack.get("/", headers={"Origin": "http://first.test"})
        self.assertIsNone(r.header("Access-Control-Allow-Origin"))

    def test_sighup_with_a_bad_env_file_keeps_serving(self):
        env_file = self._env_file()
        with open(env_file, "w") as f:
            f.write("OMNI_ALLOWED_ORIGINS=http://first.test\n")
        stack = self.own_stack(pool_args=["--env-file", env_file])
        old = stack.wait_workers(2)
        since = self._reload_with(stack, env_file, "OMNI_THREADS=lots\n")
        event = stack.wait_event("reload_failed", timeout=10, since=since)
        self.assertIn("OMNI_THREADS", json.dumps(event))
        time.sleep(0.5)
        self.assertEqual(stack.worker_pids(), old)
        r = stack.get("/", headers={"Origin": "http://first.test"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Access-Control-Allow-Origin"),
                         "http://first.test")

    def test_killed_worker_is_replaced(self):
        stack = self.own_stack()
        old = stack.wait_workers(2)
        victim = sorted(old)[0]
        since = len(stack.pool_events())
        os.kill(victim, signal.SIGKILL)
        # (A request racing the kill itself may legitimately fail: wait
        # until the victim is dead before sending any.)
        harness.wait_until(lambda: victim not in stack.worker_pids(), 10,
                           what="worker %d to die" % victim)
        # The surviving worker serves while the replacement starts.
        for _ in range(20):
            r = stack.get("/", timeout=REQUEST_TIMEOUT)
            self.assertEqual(r.status, 200, r)
        harness.wait_until(
            lambda: victim not in stack.worker_pids()
            and len(stack.worker_pids()) == 2, 15,
            what="a replacement worker")
        new = stack.worker_pids()
        self.assertEqual(len(new - old), 1, (old, new))
        stack.wait_event("worker_restart", timeout=5, since=since)
        for _ in range(40):
            r = stack.get("/", timeout=REQUEST_TIMEOUT)
            self.assertEqual(r.status, 200, r)

    def test_workers_stop_when_the_master_is_killed(self):
        stack = self.own_stack()
        workers = stack.wait_workers(2)
        os.kill(stack.pool.pid, signal.SIGKILL)
        stack.pool.wait(10)

        def gone():
            return not any(os.path.exists("/proc/%d" % w) and
                           open("/proc/%d/stat" % w).read().split()[2] != "Z"
                           for w in workers)
        # Each worker gets SIGTERM from the master's death and drains.
        harness.wait_until(gone, 20, what="workers to exit")

    def test_spawn_fcgi_mode(self):
        if shutil.which("spawn-fcgi") is None:
            self.fail("spawn-fcgi is not installed (make deps)")
        # One process of 16 threads: nginx keeps 2 x 4 idle connections.
        stack = self.own_stack(mode="spawn-fcgi", threads=16, render=(
            "--set", "OMNI_FCGI_KEEPALIVE=4"))
        self.assertEqual(stack.worker_pids(), set())  # one process
        results = harness.parallel(50, lambda i: stack.get(
            "/", timeout=REQUEST_TIMEOUT).status)
        self.assertEqual(collections.Counter(results), {200: 50})
        r = stack.post_json("/debug/echo", {"mode": "spawn-fcgi"})
        self.assertEqual(r.json(), {"mode": "spawn-fcgi"})
        self.assertEqual(stack.pool.stop(signal.SIGTERM, timeout=20), 0,
                         stack.dump_logs())


class NginxFoundation(FoundationTests, unittest.TestCase):
    FRONT = "nginx"

    def test_keepalive_above_pool_threads_stalls(self):
        # The other side of the sizing rule, so the proof above is not
        # vacuous: one nginx worker keeping 16 idle connections in front of
        # a pool of 4 threads parks every thread on an idle connection and
        # the queued requests time out (504, in the error model).  The
        # same pool with keepalive 2 answers them all.
        common = ["--set", "OMNI_NGINX_WORKERS=1",
                  "--set", "OMNI_FCGI_READ_TIMEOUT=3s", "--no-sizing-check"]
        outcome = {}
        for keepalive in (2, 16):
            stack = harness.Stack("nginx", workers=1, threads=4, render=(
                common + ["--set", "OMNI_FCGI_KEEPALIVE=%d" % keepalive]))
            stack.start()
            try:
                outcome[keepalive] = harness.parallel(
                    40, lambda i: stack.get(
                        "/debug/sleep?ms=%d" % (1000 if i == 0 else 50),
                        timeout=REQUEST_TIMEOUT), timeout=60)
            finally:
                stack.stop()
        good = [r.status if isinstance(r, harness.Response) else r
                for r in outcome[2]]
        self.assertEqual(collections.Counter(good), {200: 40}, good)
        stalled = [r for r in outcome[16]
                   if isinstance(r, harness.Response) and r.status == 504]
        self.assertTrue(stalled, outcome[16])
        assert_error_shape(self, stalled[0], 504, "UPSTREAM_TIMEOUT")

    def test_error_pages_are_internal(self):
        r = self.stack.get("/__omni_error/502")
        assert_error_shape(self, r, 404, "NOT_FOUND")

    def test_malformed_request_line_is_json_400(self):
        # A request nginx itself refuses still gets the error model.
        with socket.create_connection(("127.0.0.1", self.stack.port),
                                      timeout=10) as s:
            s.sendall(b"GET /% HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"}" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 400"), data)
        self.assertIn(b'"code":"VALIDATION_ERROR"', body)

    def test_renderer_refuses_broken_sizing(self):
        done = subprocess.run(
            [sys.executable, harness.RENDER, "nginx", "--production",
             "--pool-threads", "16", "--set", "OMNI_NGINX_WORKERS=2",
             "--set", "OMNI_FCGI_KEEPALIVE=8"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 2, done)
        self.assertIn("sizing rule", done.stderr)


class CaddyFoundation(FoundationTests, unittest.TestCase):
    FRONT = "caddy"


class Startup(unittest.TestCase):
    """Start-up failures are quick and clear, also through the harness."""

    def test_bad_config_exits_78_naming_the_variable(self):
        env = dict(os.environ, OMNI_MAX_BODY="lots")
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                [harness.omni_bin(), "--listen",
                 "unix:" + os.path.join(tmp, "s.sock"), "--workers", "1"],
                env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 78, done)
        self.assertIn("OMNI_MAX_BODY", done.stderr)

    def test_harness_reports_a_pool_that_exits(self):
        started = time.monotonic()
        stack = harness.Stack("nginx", env={"OMNI_MAX_BODY": "lots"})
        with self.assertRaises(RuntimeError) as ctx:
            stack.start()
        self.assertLess(time.monotonic() - started, 10.0)
        self.assertIn("OMNI_MAX_BODY", str(ctx.exception))
        self.assertFalse(stack.pool.alive())


class RunScript(unittest.TestCase):
    """`make run`'s script: serves GET / through each front on the given
    port, runs a test function to completion on its local executor from one
    event, turns notes into a memo with the example agent as the README
    shows, and SIGINT (Ctrl-C) stops everything it started."""

    def run_front(self, front):
        port, exec_port = harness.free_port(), harness.free_port()
        run_dir = tempfile.mkdtemp(prefix="omni-run-")
        self.addCleanup(shutil.rmtree, run_dir, True)
        env = {k: v for k, v in os.environ.items()
               if k in ("PATH", "HOME", "LANG", "OMNI_BIN")
               or k.endswith("SAN_OPTIONS")}
        env.update(FRONT=front, PORT=str(port), OMNI_RUN_DIR=run_dir,
                   OMNI_WORKERS="2", OMNI_BIN=harness.omni_bin(),
                   OMNI_EXECUTOR_BIN=os.path.join(os.path.dirname(
                       harness.omni_bin()), "omni-executor"),
                   OMNI_EXECUTOR_PORT=str(exec_port), OMNI_DEBUG_ROUTES="1")
        proc = harness.spawn(["sh", os.path.join(harness.REPO, "scripts",
                                                 "run.sh")],
                             "run-" + front, run_dir, env=env,
                             cwd=harness.REPO)
        self.addCleanup(proc.stop)
        r = harness.wait_until(
            lambda: harness.request(port, "GET", "/", timeout=2), 30,
            what="make run on port %d" % port)
        self.assertEqual(r.status, 200, proc.log())
        self.assertEqual(r.json(), {"status": "ok"})
        self.assertEqual(self.event_to_completed_run(run_dir, exec_port),
                         {"steps": ["first", "second", "third"]},
                         proc.log())
        self.notes_to_memo(port, proc)
        started = harness.children_of(proc.pid)
        self.assertTrue(started)
        proc.signal(signal.SIGINT)
        self.assertEqual(proc.wait(60), 130, proc.log())
        alive = [pid for pid in started if not _gone(pid)]
        self.assertEqual(alive, [], proc.log())
        self.assertFalse(os.path.exists(os.path.join(run_dir, "omni.sock")))

    def notes_to_memo(self, port, proc):
        """The README's steps: create a sandbox, process notes, poll the
        results, read the memo the example agent wrote."""
        r = harness.request(port, "POST", "/api/sandbox/create",
                            body={"userId": "founder-1"})
        self.assertEqual(r.status, 200, r)
        sid = r.json()["sandboxId"]
        r = harness.request(port, "POST", "/api/knowledge/process", body={
            "userId": "founder-1", "sandboxId": sid, "taskId": "march",
            "input": "- MRR $48k, 12 customers\n- burn 30k/month, runway "
                     "14 months\n- hired two engineers"})
        self.assertEqual(r.status, 202, r)

        def found():
            body = harness.request(port, "GET", "/api/task/results?taskId="
                                   "march&userId=founder-1").json()
            return body if body.get("found") else None
        res = harness.wait_until(found, 60, interval=0.2, what="the result")
        self.assertTrue(res["success"], (res, proc.log()))
        memo = [f for f in res["files"]
                if f["directory"] == "deliverables/memos"]
        self.assertEqual(len(memo), 1, res["files"])
        self.assertIn("48000", memo[0]["content"])
        self.assertIn("hired two engineers", memo[0]["content"])

    @staticmethod
    def event_to_completed_run(run_dir, exec_port):
        """POST an event to the executor `make run` started (with the key it
        wrote) and wait for the run it starts: its output."""
        with open(os.path.join(run_dir, "event-key")) as f:
            key = f.read().strip()
        log = os.path.join(run_dir, "logs", "executor.log")

        def synced():
            with open(log) as f:
                return "executor_app_synced" in f.read()
        harness.wait_until(synced, 30, what="the executor's sync")
        r = harness.request(exec_port, "POST", "/e/" + key,
                            body={"name": "omni/test.three-steps"})
        event_id = r.json()["ids"][0]

        def completed():
            runs = harness.request(exec_port, "GET", "/runs").json()
            done = [x for x in runs if x["event_id"] == event_id
                    and x["status"] != "running"]
            return done[0] if done else None
        run = harness.wait_until(completed, 20, interval=0.1,
                                 what="the run")
        detail = harness.request(exec_port, "GET",
                                 "/runs/" + run["run_id"]).json()
        return detail["output"]

    def test_run_with_nginx(self):
        self.run_front("nginx")

    def test_run_with_caddy(self):
        self.run_front("caddy")


def _gone(pid):
    """True when 'pid' no longer runs (absent, or a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2:].startswith("Z")


class ProductionConfigs(unittest.TestCase):
    """The production renders (TLS on) run: HTTP redirects to HTTPS and
    HTTPS reaches Omni, with a throwaway self-signed certificate."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("openssl") is None:
            raise unittest.SkipTest("openssl CLI not installed")
        cls.dir = tempfile.mkdtemp(prefix="omni-prod-")
        # Class cleanups run even when setUpClass fails half way.
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.cert = os.path.join(cls.dir, "cert.pem")
        cls.key = os.path.join(cls.dir, "key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-keyout", cls.key, "-out", cls.cert, "-days", "1",
             "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            check=True, capture_output=True, timeout=60)
        # The pool behind both fronts.
        cls.pool_stack = harness.Stack("nginx")
        cls.addClassCleanup(cls.pool_stack.stop)
        cls.pool_stack.start()

    def run_front(self, front):
        run = tempfile.mkdtemp(prefix="front-", dir=self.dir)
        logs = os.path.join(run, "logs")
        os.makedirs(os.path.join(run, "temp"))
        os.makedirs(logs)
        http_port, https_port = harness.free_port(), harness.free_port()
        out = os.path.join(run, "conf")
        values = {
            "OMNI_FCGI_SOCKET": self.pool_stack.socket,
            "OMNI_TLS_CERT": self.cert, "OMNI_TLS_KEY": self.key,
            "OMNI_LOG_DIR": logs,
            # nginx
            "OMNI_HTTP_LISTEN": "127.0.0.1:%d" % http_port,
            "OMNI_HTTPS_LISTEN": "127.0.0.1:%d" % https_port,
            "OMNI_NGINX_PID": os.path.join(run, "nginx.pid"),
            "OMNI_NGINX_TEMP": os.path.join(run, "temp"),
            "OMNI_NGINX_USER": "root",
            # caddy
            "OMNI_DOMAIN": "localhost", "OMNI_HTTP_PORT": str(http_port),
            "OMNI_HTTPS_PORT": str(https_port), "OMNI_CADDY_ADMIN": "off",
            # both: the loopback metrics listener, never a fixed port
            "OMNI_METRICS_PORT": str(harness.free_port()),
        }
        argv = [sys.executable, harness.RENDER, front, "--production",
                "--pool-threads", "32", "--out", out]
        for k, v in values.items():
            argv += ["--set", "%s=%s" % (k, v)]
        argv += ["--set", "OMNI_NGINX_WORKERS=1",
                 "--set", "OMNI_FCGI_KEEPALIVE=4"]
        subprocess.run(argv, check=True, capture_output=True, timeout=30)
        if front == "nginx":
            cmd = ["nginx", "-p", run, "-c", out, "-e",
                   os.path.join(logs, "stderr.log"), "-g", "daemon off;"]
            env = None
        else:
            cmd = ["caddy", "run", "--config", out, "--adapter", "caddyfile"]
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                   "HOME": run, "XDG_CONFIG_HOME": run, "XDG_DATA_HOME": run}
        proc = harness.spawn(cmd, front, logs, env=env, cwd=run)
        self.addCleanup(proc.stop)
        ctx = ssl.create_default_context(cafile=self.cert)

        def https_get():
            conn = http.client.HTTPSConnection(
                "localhost", https_port, timeout=5, context=ctx)
            try:
                conn.request("GET", "/")
                resp = conn.getresponse()
                return resp.status, resp.read(), resp.getheader(
                    "Strict-Transport-Security")
            finally:
                conn.close()

        status, body, hsts = harness.wait_until(
            https_get, 15, what="%s over HTTPS (%s)" % (front, proc.log()))
        self.assertEqual(status, 200)
        self.assertEqual(body, b'{"status":"ok"}')
        self.assertTrue(hsts)
        r = harness.request(http_port, "GET", "/x?y=1",
                            headers={"Host": "localhost"})
        self.assertIn(r.status, (301, 308), r)
        self.assertTrue(r.header("Location", "").startswith("https://"), r)
        self.assertTrue(r.header("Location").endswith("/x?y=1"), r)

    def test_nginx_production_config_serves_https(self):
        self.run_front("nginx")

    def test_caddy_production_config_serves_https(self):
        self.run_front("caddy")


if __name__ == "__main__":
    unittest.main()
