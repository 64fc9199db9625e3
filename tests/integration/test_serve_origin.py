"""Where the sync URL comes from (issue: sync re-pointed by a client's Host
header).  An unsigned PUT /api/inngest starts a sync, so nothing the
client sends may choose the URL Omni registers: in cloud mode it is
INNGEST_SERVE_ORIGIN, which every profile requires there; in dev mode it is
the Host the front passed, always with the scheme "http"; and the front
servers set X-Forwarded-* themselves, dropping a client's copies, including
the underscore spellings FastCGI would fold into the same parameter.

Real binary behind real nginx and real Caddy, the test executor
(tests/fakes/inngest_executor.py) as the Inngest server; loopback only.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402
import fcgi_client  # noqa: E402
from test_inngest import Executor, KEY, EVENT_KEY  # noqa: E402

# Everything a client could use to steer the URL, at once.
HOSTILE = {
    "X-Forwarded-Proto": "https",
    "X_Forwarded_Proto": "https",
    "X-Forwarded-Host": "attacker.example",
    "X_Forwarded_Host": "attacker.example",
    "X-Forwarded-Port": "443",
}


def registered_url(ex):
    fns = ex.get("/test/functions")["functions"]
    assert "omni-test-three-steps" in fns, fns
    return fns["omni-test-three-steps"]["steps"]["step"]["runtime"]["url"]


class OriginStacks:
    """An executor and a stack in cloud or dev mode, ended by cleanups."""
    FRONT = "nginx"

    def executor(self):
        log_dir = tempfile.mkdtemp(prefix="omni-origin-ex-")
        self.addCleanup(shutil.rmtree, log_dir, True)
        ex = Executor(log_dir)
        self.addCleanup(ex.stop)
        return ex

    def stack(self, env, port=None):
        st = harness.Stack(front=self.FRONT, port=port, env=dict({
            "INNGEST_SIGNING_KEY": KEY,
            "INNGEST_EVENT_KEY": EVENT_KEY,
            "INNGEST_APP_ID": "omni",
        }, **env))
        st.start()
        self.addCleanup(st.stop)
        return st


class ServeOriginMixin(OriginStacks):
    def test_cloud_mode_registers_the_configured_origin(self):
        ex = self.executor()
        port = harness.free_port()
        origin = "http://127.0.0.1:%d" % port
        st = self.stack({"INNGEST_DEV": "0", "INNGEST_SERVE_ORIGIN": origin,
                         "INNGEST_BASE_URL": ex.origin}, port=port)
        r = st.request("PUT", "/api/inngest",
                       headers=dict(HOSTILE, Host="attacker.example:443"))
        self.assertEqual(r.status, 200, r.text)
        if r.header("X-Inngest-Sdk") is None:
            # Caddy's site is http://127.0.0.1:PORT: another Host never
            # reaches Omni (Caddy answers an empty 200 itself).
            self.assertEqual((self.FRONT, r.text), ("caddy", ""))
            r = st.request("PUT", "/api/inngest", headers=HOSTILE)
            self.assertEqual(r.status, 200, r.text)
        self.assertEqual(registered_url(ex), origin +
                         "/api/inngest?fnId=omni-test-three-steps&stepId=step")

    def test_dev_mode_never_takes_the_scheme_from_a_header(self):
        ex = self.executor()
        st = self.stack({"INNGEST_DEV": ex.origin})
        r = st.request("PUT", "/api/inngest", headers=HOSTILE)
        self.assertEqual(r.status, 200, r.text)
        # Dev mode trusts the Host the front passed (docs/inngest.md),
        # never a forwarded scheme or host.
        self.assertEqual(registered_url(ex),
                         "http://127.0.0.1:%d/api/inngest?fnId="
                         "omni-test-three-steps&stepId=step" % st.port)


class ServeOriginNginx(ServeOriginMixin, unittest.TestCase):
    FRONT = "nginx"


class ServeOriginCaddy(ServeOriginMixin, unittest.TestCase):
    FRONT = "caddy"


class ServeOriginDirect(OriginStacks, unittest.TestCase):
    """Omni itself, without a front to overwrite the header: a
    X-Forwarded-Proto that reaches the pool still chooses nothing."""

    def test_forwarded_proto_ignored_by_the_pool(self):
        ex = self.executor()
        st = self.stack({"INNGEST_DEV": ex.origin})
        status, _, body = fcgi_client.fcgi_request(
            st.socket, "PUT", "/api/inngest",
            headers={"Host": "127.0.0.1:%d" % st.port,
                     "X-Forwarded-Proto": "https"})
        self.assertEqual(status, 200, body)
        self.assertTrue(registered_url(ex).startswith(
            "http://127.0.0.1:%d/" % st.port), registered_url(ex))


class ServeOriginRequired(unittest.TestCase):
    """Outside dev mode a start without INNGEST_SERVE_ORIGIN is refused
    with one line naming it (exit 78), in every profile."""

    def start(self, **env):
        run_dir = tempfile.mkdtemp(prefix="omni-origin-")
        self.addCleanup(shutil.rmtree, run_dir, True)
        full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "OMNI_DATA_DIR": os.path.join(run_dir, "data"),
                "SANDBOX_PROVIDER": "local",
                "INNGEST_SIGNING_KEY": KEY}
        full.update(env)
        return subprocess.run(
            [harness.omni_bin(), "--listen", "127.0.0.1:%d" %
             harness.free_port(), "--workers", "1"], env=full,
            capture_output=True, text=True, timeout=30)

    def assert_refused(self, p):
        self.assertEqual(p.returncode, 78, p)
        lines = [l for l in p.stderr.splitlines() if l.startswith("omni")]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("INNGEST_SERVE_ORIGIN", lines[0])

    def test_staging(self):
        self.assert_refused(self.start(OMNI_ENV="staging",
                                       OMNI_AUTH="none"))

    def test_development_in_cloud_mode(self):
        self.assert_refused(self.start(OMNI_ENV="development",
                                       INNGEST_DEV="0"))


if __name__ == "__main__":
    unittest.main()
