"""GET /metrics and /ready through the real front servers.

A known mix of requests goes through nginx (and Caddy) to a pool of two
workers; one scrape must then show exactly those counts, whichever worker
answers it, and a worker killed with SIGKILL loses none of them.  Who may
scrape (loopback, or the metrics token), OMNI_METRICS=0, the draining
answer of /ready under OMNI_DRAIN_DELAY and the egress probe are checked
here too.  Only 127.0.0.1 is used; every wait is bounded.
"""

import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402
import fcgi_client  # noqa: E402

KEEPALIVE = ("--set", "OMNI_FCGI_KEEPALIVE=2")
KEY = "signkey-test-" + "3e7a1c" * 8
TOKEN = "metrics-token-0123456789abcdef"
TIMEOUT = 20.0
SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset of (label, value)): float} of an exposition;
    fails on any line that is neither a comment nor a series."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or \
                line.startswith("# TYPE "):
            continue
        m = SERIES.match(line)
        if m is None:
            raise AssertionError("not an exposition line: %r" % line)
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        key = (m.group(1), labels)
        if key in out:
            raise AssertionError("series twice: %r" % line)
        out[key] = float(m.group(4))
    return out


def value(series, name, **labels):
    return series.get((name, frozenset(labels.items())), 0.0)


def signed_call(stack, run_id):
    """The first call request of a run of test-three-steps: 206 StepRun."""
    event = {"name": "omni/test.three-steps", "data": {"n": 1},
             "id": "ev-" + run_id, "ts": 1700000000000}
    body = json.dumps({
        "event": event, "events": [event], "steps": {},
        "ctx": {"run_id": run_id, "attempt": 0,
                "disable_immediate_execution": False, "use_api": False,
                "stack": {"stack": [], "current": 0}}},
        separators=(",", ":")).encode()
    ts = str(int(time.time()))
    mac = hmac.new(re.sub(r"^signkey-\w+-", "", KEY).encode(),
                   body + ts.encode(), hashlib.sha256).hexdigest()
    return stack.request(
        "POST", "/api/inngest?fnId=omni-test-three-steps&stepId=step",
        body=body, timeout=TIMEOUT,
        headers={"Content-Type": "application/json",
                 "X-Inngest-Signature": "t=%s&s=%s" % (ts, mac)})


def cloud_env(extra=None):
    env = {"INNGEST_DEV": "0", "INNGEST_SIGNING_KEY": KEY,
           "INNGEST_EVENT_KEY": "metrics-test-event-key",
           "INNGEST_BASE_URL": "http://127.0.0.1:9",
           "INNGEST_SERVE_ORIGIN": "http://127.0.0.1:9"}
    env.update(extra or {})
    return env


class MetricsCounts:
    """Mixin: the exact-count test through one front server."""

    FRONT = "nginx"

    def setUp(self):
        self.stack = harness.Stack(
            self.FRONT, workers=2, render=KEEPALIVE,
            env=cloud_env({"RATE_LIMIT_RPM": "1000",
                           "RATE_LIMIT_STRICT_RPM": "2",
                           # One thread a worker: a worker held by
                           # /debug/sleep cannot answer anything else.
                           "OMNI_THREADS": "1",
                           "OMNI_DEBUG_ROUTES": "1"})).start()
        self.addCleanup(self.stack.stop_checked)

    def scrape(self):
        r = self.stack.get("/metrics", timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r.text)
        self.assertTrue(r.header("Content-Type", "").startswith(
            "text/plain; version=0.0.4"), r.header("Content-Type"))
        return parse(r.text)

    def send_mix(self):
        s = self.stack
        # The GETs go while one worker sleeps, so the other one answers
        # them: several workers count, whatever the accept race decides.
        self.sleep_result = []
        sleeper = threading.Thread(target=lambda: self.sleep_result.append(
            s.get("/debug/sleep?ms=2500", timeout=TIMEOUT).status))
        sleeper.start()
        time.sleep(0.5)
        statuses = harness.parallel(20, lambda i: s.get("/").status)
        sleeper.join(TIMEOUT)
        self.assertEqual(self.sleep_result, [200])
        self.assertEqual(statuses, [200] * 20)
        for _ in range(5):
            self.assertEqual(s.request("HEAD", "/").status, 200)
        for i in range(7):
            self.assertEqual(s.get("/no/such/%d" % i).status, 404)
        for _ in range(3):
            self.assertEqual(s.request("DELETE", "/").status, 405)
        for _ in range(4):
            r = s.get("/ready", timeout=TIMEOUT)
            self.assertEqual(r.status, 200, r.text)
        for i in range(3):
            r = signed_call(s, "01METRICS%d" % i)
            self.assertEqual(r.status, 206, r.text)
        # The strict budget is 2 a minute: two creates, then two 429s.
        creates = [s.post_json("/api/sandbox/create", {"userId": "mx1"},
                               timeout=60).status for _ in range(4)]
        self.assertEqual(creates[2:], [429, 429], creates)
        self.assertTrue(all(c in (200, 201) for c in creates[:2]), creates)

    def test_counts_are_exact_across_workers_and_survive_a_kill(self):
        # The harness's own start-up probes went through the front:
        # counted from a first scrape on.
        base = self.scrape()
        self.send_mix()
        now = self.scrape()
        m = {k: v - base.get(k, 0.0) for k, v in now.items()}
        req = "omni_http_requests_total"
        expect = {
            ("/", "GET", "2xx"): 20, ("/", "HEAD", "2xx"): 5,
            ("/debug/sleep", "GET", "2xx"): 1,
            ("unmatched", "GET", "4xx"): 7, ("/", "DELETE", "4xx"): 3,
            ("/ready", "GET", "2xx"): 4,
            ("/api/inngest", "POST", "2xx"): 3,
            ("/api/sandbox/create", "POST", "2xx"): 2,
            ("/api/sandbox/create", "POST", "4xx"): 2,
        }
        for (route, method, cls), n in expect.items():
            self.assertEqual(value(m, req, route=route, method=method,
                                   status_class=cls), n,
                             (route, method, cls))
        # Nothing else was counted but the first scrape (this one is
        # counted once it has been answered).
        self.assertEqual(value(m, req, route="/metrics", method="GET",
                               status_class="2xx"), 1)
        self.assertEqual(sum(v for (name, _), v in m.items()
                             if name == req), sum(expect.values()) + 1)
        hist = "omni_http_request_duration_seconds"
        self.assertEqual(value(m, hist + "_count", route="/"), 28)
        self.assertEqual(value(m, hist + "_bucket", route="/", le="+Inf"),
                         28)
        self.assertGreater(value(m, hist + "_sum", route="/"), 0)
        self.assertEqual(value(m, "omni_inngest_calls_total",
                               function="omni-test-three-steps",
                               outcome="steps"), 3)
        self.assertEqual(value(m, "omni_rate_limited_total",
                               budget="strict", scope="client"), 2)
        self.assertEqual(value(m, "omni_rate_limited_total",
                               budget="general", scope="client"), 0)
        sbx = "omni_sandbox_operation_duration_seconds_count"
        self.assertEqual(value(m, sbx, operation="create", provider="local",
                               outcome="ok"), 1)
        # Gauges and totals since start from the scrape itself.
        self.assertEqual(value(now, "omni_workers_alive"), 2)
        self.assertEqual(value(now, "omni_worker_restarts_total"), 0)
        self.assertEqual(value(now, "omni_draining"), 0)
        version = subprocess.run([harness.omni_bin(), "--version"],
                                 capture_output=True, text=True).stdout
        ver, rev = re.match(r"omni-fcgi (\S+) \((\S+)\)", version).groups()
        self.assertEqual(value(now, "omni_build_info", version=ver,
                               revision=rev), 1)
        # Several workers answered the mix.
        pids = {e.get("pid") for e in self.stack.pool_events()
                if e.get("event") == "request" and
                e.get("path") in ("/", "/debug/sleep")}
        self.assertGreaterEqual(len(pids), 2, pids)

        # A worker killed outright: every count it made is still there.
        victim = sorted(self.stack.worker_pids())[0]
        os.kill(victim, signal.SIGKILL)
        self.stack.wait_event("worker_restart", timeout=TIMEOUT)
        harness.wait_until(lambda: len(self.stack.worker_pids()) == 2 and
                           victim not in self.stack.worker_pids(), TIMEOUT,
                           what="a replacement worker")
        m2 = harness.wait_until(
            lambda: (lambda x: x if value(x, "omni_workers_alive") == 2
                     else None)(self.scrape()), TIMEOUT,
            what="two workers alive")
        for (route, method, cls), n in expect.items():
            self.assertEqual(value(m2, req, route=route, method=method,
                                   status_class=cls) -
                             value(base, req, route=route, method=method,
                                   status_class=cls), n)
        self.assertEqual(value(m2, "omni_worker_restarts_total"), 1)


class MetricsCountsNginx(MetricsCounts, unittest.TestCase):
    FRONT = "nginx"


class MetricsCountsCaddy(MetricsCounts, unittest.TestCase):
    FRONT = "caddy"


class MetricsAccess(unittest.TestCase):
    """Who may scrape: decided by REMOTE_ADDR or the token, never by a
    header a client writes."""

    def start(self, env=None):
        s = harness.Stack("nginx", workers=1, render=KEEPALIVE,
                          env=cloud_env(env)).start()
        self.addCleanup(s.stop_checked)
        return s

    def direct(self, s, remote_addr, headers=None):
        return fcgi_client.fcgi_request(s.socket, "GET", "/metrics",
                                        headers=headers, timeout=TIMEOUT,
                                        remote_addr=remote_addr)

    def test_loopback_only_without_a_token(self):
        s = self.start()
        status, _, body = self.direct(s, "203.0.113.9", headers={
            "X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"})
        self.assertEqual(status, 403, body)
        self.assertEqual(json.loads(body)["error"]["code"], "FORBIDDEN")
        for addr in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
            status, _, body = self.direct(s, addr)
            self.assertEqual(status, 200, (addr, body[:200]))
        status, _, _ = self.direct(s, "::2")
        self.assertEqual(status, 403)
        status, _, _ = self.direct(s, None)
        self.assertEqual(status, 403)

    def test_token_when_configured(self):
        s = self.start({"OMNI_METRICS_TOKEN": TOKEN})
        r = s.get("/metrics", timeout=TIMEOUT)
        self.assertEqual(r.status, 401, r.text)
        self.assertIn("Bearer", r.header("WWW-Authenticate", ""))
        r = s.get("/metrics", timeout=TIMEOUT,
                  headers={"Authorization": "Bearer " + TOKEN + "x"})
        self.assertEqual(r.status, 401)
        r = s.get("/metrics", timeout=TIMEOUT,
                  headers={"Authorization": "Bearer " + TOKEN[:-1]})
        self.assertEqual(r.status, 401)
        r = s.get("/metrics", timeout=TIMEOUT,
                  headers={"Authorization": "Bearer " + TOKEN})
        self.assertEqual(r.status, 200, r.text)
        self.assertIn("omni_build_info", r.text)
        # With the token, the address no longer matters.
        status, _, _ = self.direct(s, "203.0.113.9", headers={
            "Authorization": "Bearer " + TOKEN})
        self.assertEqual(status, 200)

    def test_metrics_off(self):
        s = self.start({"OMNI_METRICS": "0"})
        self.assertEqual(s.get("/").status, 200)
        r = s.get("/metrics", timeout=TIMEOUT)
        self.assertEqual(r.status, 404, r.text)
        self.assertEqual(r.json()["error"]["code"], "NOT_FOUND")

    def test_short_token_stops_start_up(self):
        env = harness._base_env(self.tmp_dir())
        env.update(cloud_env({"OMNI_METRICS_TOKEN": "short"}))
        p = subprocess.run([harness.omni_bin(), "--listen",
                            "127.0.0.1:%d" % harness.free_port()], env=env,
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("OMNI_METRICS_TOKEN", p.stderr)
        self.assertNotIn("short", p.stderr)

    def tmp_dir(self):
        d = tempfile.mkdtemp(prefix="omni-metrics-")
        self.addCleanup(shutil.rmtree, d, True)
        os.makedirs(os.path.join(d, "data"))
        return d


class ReadyChecks(unittest.TestCase):
    """/ready: draining under OMNI_DRAIN_DELAY, Inngest, the egress
    probe."""

    def start(self, env=None, workers=2):
        s = harness.Stack("nginx", workers=workers, render=KEEPALIVE,
                          env=cloud_env(env)).start()
        self.addCleanup(s.stop)
        return s

    def test_draining_answers_503_while_still_serving(self):
        s = self.start({"OMNI_DRAIN_DELAY": "3"})
        r = s.get("/ready", timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r.text)
        self.assertTrue(r.json()["checks"]["draining"]["ok"])
        t0 = time.monotonic()
        s.pool.signal(signal.SIGTERM)
        s.wait_event("drain_delay", timeout=TIMEOUT)
        r = s.get("/ready", timeout=TIMEOUT)
        self.assertEqual(r.status, 503, r.text)
        body = r.json()
        self.assertEqual(body["status"], "not_ready")
        self.assertFalse(body["checks"]["draining"]["ok"])
        self.assertTrue(body["checks"]["sandbox"]["ok"])
        # Still serving everything else meanwhile.
        self.assertEqual(s.get("/").status, 200)
        self.assertEqual(value(parse(s.get("/metrics").text),
                               "omni_draining"), 1)
        s.pool.wait(TIMEOUT)
        self.assertEqual(s.pool.returncode, 0)
        self.assertGreaterEqual(time.monotonic() - t0, 2.5)
        events = [e.get("event") for e in s.pool_events()]
        self.assertLess(events.index("drain_delay"), events.index("drain"))

    def test_second_signal_ends_the_delay(self):
        s = self.start({"OMNI_DRAIN_DELAY": "60"}, workers=1)
        s.pool.signal(signal.SIGTERM)
        s.wait_event("drain_delay", timeout=TIMEOUT)
        t0 = time.monotonic()
        s.pool.signal(signal.SIGTERM)
        s.pool.wait(TIMEOUT)
        self.assertLess(time.monotonic() - t0, 15)

    def test_inngest_check_names_the_missing_key(self):
        # An empty value is unset (config.h): the pool starts, since
        # calls can still be verified, but it cannot send events.
        s = self.start({"INNGEST_EVENT_KEY": ""}, workers=1)
        r = s.get("/ready", timeout=TIMEOUT)
        self.assertEqual(r.status, 503, r.text)
        checks = r.json()["checks"]
        self.assertFalse(checks["inngest"]["ok"])
        self.assertEqual(checks["inngest"]["detail"],
                         "INNGEST_EVENT_KEY is not set")
        self.assertTrue(checks["sandbox"]["ok"])
        s.stop()
        s = self.start(workers=1)
        r = s.get("/ready", timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json()["checks"]["inngest"]["detail"],
                         "cloud mode")

    def test_egress_probe(self):
        closed = harness.free_port()
        s = self.start({"OMNI_EGRESS_PROBE": "127.0.0.1:%d" % closed},
                       workers=1)
        r = s.get("/ready", timeout=TIMEOUT)
        self.assertEqual(r.status, 503, r.text)
        egress = r.json()["checks"]["egress"]
        self.assertFalse(egress["ok"])
        self.assertIn("127.0.0.1:%d" % closed, egress["detail"])
        s.stop()
        # The front server's own port is open: reached.
        s2 = harness.Stack("nginx", workers=1, render=KEEPALIVE,
                           env=cloud_env()).start()
        self.addCleanup(s2.stop)
        s3 = self.start({"OMNI_EGRESS_PROBE":
                         "localhost:%d, 127.0.0.1:%d" % (s2.port, s2.port)},
                        workers=1)
        r = s3.get("/ready", timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json()["checks"]["egress"]["detail"], "reached")


if __name__ == "__main__":
    unittest.main()
