"""RATE_LIMIT_RPM through real nginx and Caddy, with several workers.

The window is a minute of CLOCK_MONOTONIC, the clock Python's
time.monotonic() reads on Linux, so each test first makes sure the requests
it counts fit in one window (fresh_window) instead of waiting for windows
to roll over: rollover is proven by the unit tests with an injected clock.
Every stack is the test's own, so budgets never leak between tests.  Only
127.0.0.1 and the pool's unix socket are addressed; every loop is bounded.
"""

import base64
import hashlib
import hmac
import json
import math
import os
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import fcgi_client  # noqa: E402

RPM = 5
STRICT = 2
WINDOW_S = 60
REQUEST_TIMEOUT = 20.0
LIMITED = "/api/sandbox/status?id=no-such-sandbox"  # general budget, cheap
SLOW = "/debug/sleep?ms=500"  # general budget, holds a thread
JWT_SECRET = "rate-limit-integration-secret-0123456789"


def fresh_window(need_s):
    """Sleep, if needed, until 'need_s' seconds fit in the current window."""
    phase = time.monotonic() % WINDOW_S
    if phase > WINDOW_S - need_s:
        time.sleep(WINDOW_S - phase + 0.2)


def seconds_left():
    return WINDOW_S - time.monotonic() % WINDOW_S


def token(sub):
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": sub, "exp": int(time.time()) + 3600})
               .encode())
    sig = hmac.new(JWT_SECRET.encode(), ("%s.%s" % (head, body)).encode(),
                   hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64(sig))


def fcgi_call(sock, method, uri, remote_addr, headers=None):
    """One FastCGI request straight to the pool, with the REMOTE_ADDR a
    front server would have sent.  Returns (status, headers, body)."""
    return fcgi_client.fcgi_request(sock, method, uri, headers=headers,
                                    timeout=REQUEST_TIMEOUT,
                                    remote_addr=remote_addr)


class RateLimitTests:
    """Mixin: the tests through one front server; subclasses set FRONT."""

    FRONT = "nginx"

    def stack(self, workers=2, env=None):
        full = {"RATE_LIMIT_RPM": str(RPM)}
        full.update(env or {})
        s = harness.Stack(self.FRONT, workers=workers, threads=4, env=full,
                          render=("--set", "OMNI_FCGI_KEEPALIVE=2"))
        self.addCleanup(s.stop_checked)
        return s.start()

    def get(self, s, path=LIMITED, **kw):
        return s.get(path, timeout=REQUEST_TIMEOUT, **kw)

    def assert_limited(self, r, limit, before, after):
        """A 429 in the error model, with a Retry-After that is the time
        left in the window the request was counted in."""
        self.assertEqual(r.status, 429, r)
        self.assertTrue(r.header("Content-Type", "").startswith(
            "application/json"), r)
        self.assertTrue(r.header("X-Request-Id"), r)
        err = r.json()["error"]
        self.assertEqual(err["code"], "RATE_LIMITED", r)
        self.assertTrue(err["message"], r)
        self.assertEqual(err["details"]["limit"], limit, r)
        ra = int(r.header("Retry-After"))
        self.assertGreaterEqual(ra, 1, r)
        self.assertLessEqual(ra, WINDOW_S, r)
        # 'before'/'after': seconds left in the window around the request.
        self.assertGreaterEqual(ra, max(1, math.floor(after)), r)
        self.assertLessEqual(ra, min(WINDOW_S, math.ceil(before)), r)
        self.assertEqual(err["details"]["retryAfter"], ra, r)

    def spend_budget(self, s, limit=RPM, path=LIMITED):
        """Spend the whole budget, then check one more is refused."""
        for i in range(limit):
            r = self.get(s, path)
            self.assertNotEqual(r.status, 429, (i, r))
        before = seconds_left()
        r = self.get(s, path)
        self.assert_limited(r, limit, before, seconds_left())

    def test_exactly_rpm_requests_pass_across_workers(self):
        s = self.stack(workers=3)
        fresh_window(20)
        since = len(s.pool_events())
        before = seconds_left()
        # Concurrent requests, so that several workers count at once.  The
        # admitted ones hold their thread for a while: RPM (5) of them at
        # once need more threads than one worker has (4), so at least two
        # workers admit requests from the same budget.
        got = harness.parallel(RPM * 4, lambda i: self.get(s, SLOW))
        after = seconds_left()
        for r in got:
            self.assertIsInstance(r, harness.Response, r)
        passed = [r for r in got if r.status != 429]
        self.assertEqual(len(passed), RPM, [r.status for r in got])
        for r in passed:
            self.assertEqual(r.status, 200, r)  # the handler answered
        for r in got:
            if r.status == 429:
                self.assert_limited(r, RPM, before, after)
        # Later requests in the window are refused too.
        self.assert_limited(self.get(s, SLOW), RPM, seconds_left(), 0)
        pids = {e["pid"] for e in s.pool_events()[since:]
                if e.get("event") == "request" and e.get("status") == 200}
        self.assertGreaterEqual(len(pids), 2, pids)
        refusals = [e for e in s.pool_events()[since:]
                    if e.get("event") == "rate_limited"]
        self.assertEqual(len(refusals), RPM * 3 + 1, refusals)
        self.assertTrue(all(e["key"] == "ip" and e["budget"] == "general"
                            for e in refusals), refusals)

    def test_health_and_inngest_are_not_limited(self):
        s = self.stack()
        fresh_window(15)
        self.spend_budget(s)
        for _ in range(RPM * 2):
            self.assertEqual(self.get(s, "/").status, 200)
            self.assertEqual(self.get(s, "/ready").status, 200)
            self.assertEqual(self.get(s, "/api/inngest").status, 200)
            r = s.request("POST", "/api/inngest", body=b"{}",
                          headers={"Content-Type": "application/json"},
                          timeout=REQUEST_TIMEOUT)
            self.assertNotEqual(r.status, 429, r)
        # ... and they did not make the limited route any freer.
        self.assertEqual(self.get(s).status, 429)

    def test_killed_workers_do_not_reset_the_count(self):
        s = self.stack()
        fresh_window(30)
        self.spend_budget(s)
        master = s.pool.pid
        old = s.wait_workers(2)
        since = len(s.pool_events())
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        seen = {}

        def replaced():
            # One reading of the workers, kept: a second one could differ.
            cur = s.worker_pids()
            if len(cur) == 2 and not cur & old:
                seen["new"] = cur
                return True
            return False
        harness.wait_until(replaced, 15, what="two replacement workers")
        new = seen["new"]
        harness.wait_until(lambda: {e["pid"] for e in s.pool_events()[since:]
                                    if e.get("event") == "worker_ready"}
                           >= new, 15, what="replacements ready")
        self.assertEqual(s.pool.pid, master)
        since = len(s.pool_events())
        for _ in range(4):
            self.assertEqual(self.get(s).status, 429)
        # Served by the replacements, which inherited the counts.
        pids = {e["pid"] for e in s.pool_events()[since:]
                if e.get("event") == "request"}
        # (not by a killed worker: the replacements, or their own
        # replacements should one have been restarted since)
        self.assertTrue(pids and not pids & old, (pids, old, new))

    def test_sighup_reload_does_not_reset_the_count(self):
        s = self.stack()
        fresh_window(30)
        self.spend_budget(s)
        old = s.wait_workers(2)
        since = len(s.pool_events())
        s.pool.signal(signal.SIGHUP)
        s.wait_event("reload", timeout=10, since=since)
        harness.wait_until(
            lambda: len(s.worker_pids()) == 2 and not s.worker_pids() & old,
            20, what="the new generation")
        self.assertEqual(self.get(s).status, 429)

    def test_strict_budget_on_sandbox_create(self):
        s = self.stack(env={"RATE_LIMIT_STRICT_RPM": str(STRICT)})
        fresh_window(20)
        body = {"userId": "rate-limit-user"}
        for i in range(STRICT):
            r = s.post_json("/api/sandbox/create", body,
                            timeout=REQUEST_TIMEOUT)
            self.assertEqual(r.status, 200, (i, r))
        before = seconds_left()
        r = s.post_json("/api/sandbox/create", body, timeout=REQUEST_TIMEOUT)
        self.assert_limited(r, STRICT, before, seconds_left())
        # The general budget is separate: all of it is still there.
        self.spend_budget(s)
        refusal = [e for e in s.pool_events()
                   if e.get("event") == "rate_limited"][0]
        self.assertEqual(refusal["budget"], "strict", refusal)


class NginxRateLimit(RateLimitTests, unittest.TestCase):
    FRONT = "nginx"


class CaddyRateLimit(RateLimitTests, unittest.TestCase):
    FRONT = "caddy"


class ClientIdentity(unittest.TestCase):
    """Who counts as the client, sent over FastCGI to the pool directly so
    that REMOTE_ADDR is the test's to choose, as a front server's is."""

    def stack(self, env):
        full = {"RATE_LIMIT_RPM": "3"}
        full.update(env)
        s = harness.Stack("nginx", workers=2, threads=4, env=full,
                          render=("--set", "OMNI_FCGI_KEEPALIVE=2"))
        self.addCleanup(s.stop_checked)
        return s.start()

    def statuses(self, s, remote_addrs, xffs=None, tokens=None):
        out = []
        for i, ra in enumerate(remote_addrs):
            headers = {}
            if xffs is not None:
                headers["X-Forwarded-For"] = xffs[i]
            if tokens is not None:
                headers["Authorization"] = "Bearer " + tokens[i]
            out.append(fcgi_call(s.socket, "GET", LIMITED, ra, headers)[0])
        return out

    def test_forwarded_for_counts_only_from_a_trusted_proxy(self):
        s = self.stack({})
        fresh_window(20)
        # An untrusted peer cannot buy budgets with made-up headers.
        got = self.statuses(s, ["198.51.100.7"] * 5,
                            xffs=["203.0.113.%d" % i for i in range(5)])
        self.assertEqual(got, [404, 404, 404, 429, 429])
        # Loopback (the default OMNI_TRUSTED_PROXIES) names the client.
        got = self.statuses(s, ["127.0.0.1"] * 4, xffs=["203.0.113.50"] * 4)
        self.assertEqual(got, [404, 404, 404, 429])
        got = self.statuses(s, ["127.0.0.1"], xffs=["203.0.113.51"])
        self.assertEqual(got, [404])

    def test_no_proxy_trusted(self):
        s = self.stack({"OMNI_TRUSTED_PROXIES": ""})
        fresh_window(20)
        got = self.statuses(s, ["127.0.0.1"] * 4,
                            xffs=["203.0.113.%d" % i for i in range(4)])
        self.assertEqual(got, [404, 404, 404, 429])

    def test_user_budget_across_addresses(self):
        s = self.stack({"OMNI_AUTH": "jwt", "JWT_SECRET": JWT_SECRET})
        fresh_window(20)
        sub = "rate-limited-subject-7"
        # One token from four addresses: the subject's budget holds.
        got = self.statuses(s, ["192.0.2.%d" % i for i in range(1, 5)],
                            tokens=[token(sub)] * 4)
        self.assertEqual(got, [404, 404, 404, 429])
        # Another user from a fresh address is served.
        self.assertEqual(self.statuses(s, ["192.0.2.9"],
                                       tokens=[token("other")]), [404])
        refusal = s.wait_event("rate_limited", timeout=5)
        self.assertEqual(refusal["key"], "user", refusal)
        # The subject is never logged.
        self.assertNotIn(sub, s.pool.log())


class TurnedOnByReload(unittest.TestCase):
    """A pool started with RATE_LIMIT_RPM=0 has no table; the reload that
    turns limiting on makes one before it forks the new workers."""

    def test_sighup_turns_limiting_on(self):
        fd, env_file = tempfile.mkstemp(prefix="omni-rl-", suffix=".env")
        with os.fdopen(fd, "w") as f:
            f.write("RATE_LIMIT_RPM=0\n")
        self.addCleanup(os.unlink, env_file)
        s = harness.Stack("nginx", workers=2, threads=4,
                          pool_args=["--env-file", env_file],
                          render=("--set", "OMNI_FCGI_KEEPALIVE=2"))
        self.addCleanup(s.stop_checked)
        s.start()
        fresh_window(30)
        for _ in range(8):
            self.assertEqual(s.get(LIMITED).status, 404)
        with open(env_file, "w") as f:
            f.write("RATE_LIMIT_RPM=2\n")
        old = s.wait_workers(2)
        since = len(s.pool_events())
        s.pool.signal(signal.SIGHUP)
        s.wait_event("reload", timeout=10, since=since)
        harness.wait_until(
            lambda: len(s.worker_pids()) == 2 and not s.worker_pids() & old,
            20, what="the new generation")
        got = [s.get(LIMITED).status for _ in range(4)]
        self.assertEqual(got, [404, 404, 429, 429])


if __name__ == "__main__":
    unittest.main()
