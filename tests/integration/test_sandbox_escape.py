"""A local sandbox cannot reach host root, through real nginx and Caddy.

The security review's escape: commands ran as host uid 0 (no user
namespace), so /proc/sys was writable (core_pattern = code execution as
root), root-only files were readable and RLIMIT_NPROC did not hold.  Here,
with the suite running as root as `make run` and CI do:

  - the command's uid is not 0, inside nor on the host (read from
    /proc/<pid>/status of the running command, as ps would);
  - no file under /proc/sys opens for writing (opened, never written);
  - a fork loop stops at OMNI_SANDBOX_PIDS and the host keeps serving;
  - a root-only file is unreadable, even one placed in the sandbox home;
  - with a cgroup (v1 on this machine, v2 where offered) the memory bound
    holds for the sandbox as a whole; with OMNI_SANDBOX_CGROUP=off (the
    documented fallback) it holds per process only, and the test says so.

Each assertion has its control on the host (which, as root, can do what
the sandbox must not), so it can fail.  Only 127.0.0.1 is used, every
loop is bounded, and what a command starts dies with its pid namespace.
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TIMEOUT = 30.0
PIDS = 64
SANDBOX_USER = os.environ.get("OMNI_SANDBOX_USER", "omni-sandbox")


def proc_ids(pid):
    """(real uid, effective uid) of a host process, from its status."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                fields = line.split()
                return int(fields[1]), int(fields[2])
    raise AssertionError("no Uid line for %d" % pid)


def pids_running(argv):
    want = ("\0".join(argv) + "\0").encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    if f.read() == want:
                        found.append(int(entry))
            except OSError:
                pass
    return found


class Containment(harness.SharedStack):
    """Mixin: subclasses set FRONT and CGROUP."""

    CGROUP = "auto"

    @classmethod
    def setUpClass(cls):
        cls.STACK_ARGS = {"workers": 2, "threads": 16, "env": {
            "SANDBOX_PROVIDER": "local",
            "OMNI_SANDBOX_CGROUP": cls.CGROUP,
            "OMNI_SANDBOX_PIDS": str(PIDS),
            "OMNI_SANDBOX_MEMORY": "160m"}}
        super().setUpClass()

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("the escape needs a root parent; run as root")

    def sandbox(self, tag):
        user = "escape-%s-%s-%s" % (self.FRONT, self.CGROUP.strip("/"), tag)
        r = self.stack.post_json("/api/sandbox/create", {"userId": user},
                                 timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r)
        sid = r.json()["sandboxId"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = self.stack.get("/api/sandbox/status?id=" + sid,
                               timeout=TIMEOUT)
            if r.status == 200 and r.json().get("status") == "ready":
                return sid
            time.sleep(0.1)
        self.fail("sandbox %s not ready" % sid)

    def exec(self, sid, command, timeout_s=20):
        r = self.stack.post_json("/debug/sandbox/exec", {
            "sandboxId": sid, "command": command, "timeoutS": timeout_s},
            timeout=TIMEOUT + timeout_s)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def home(self, sid):
        return os.path.join(self.stack.env["OMNI_DATA_DIR"], "sandboxes",
                            sid, "home")

    def test_uid_is_not_root_inside_nor_on_the_host(self):
        sid = self.sandbox("uid")
        want = pwd.getpwnam(SANDBOX_USER).pw_uid
        marker = "3.%d%d" % (os.getpid() % 1000, int(time.time()) % 1000)
        result = {}
        t = threading.Thread(target=lambda: result.update(self.exec(
            sid, "id -u; exec sleep " + marker)))
        t.start()
        seen = []
        deadline = time.monotonic() + 15
        while not seen and time.monotonic() < deadline:
            seen = pids_running(["sleep", marker])
            time.sleep(0.05)
        self.assertTrue(seen, "the command never showed on the host")
        for pid in seen:
            ruid, euid = proc_ids(pid)
            self.assertNotEqual(ruid, 0)
            self.assertNotEqual(euid, 0)
            self.assertEqual(euid, want)
        # Control: this test itself is host root.
        self.assertEqual(proc_ids(os.getpid())[1], 0)
        t.join(TIMEOUT + 30)
        self.assertEqual(result.get("exitCode"), 0, result)
        self.assertNotEqual(result["output"].split()[0], "0", result)

    def test_nothing_under_proc_sys_opens_for_writing(self):
        sid = self.sandbox("procsys")
        # ':' opens for appending and writes nothing, so a file that did
        # open would still be unchanged.
        out = self.exec(sid, "n=0; for f in $(find /proc/sys -type f "
                        "2>/dev/null) /proc/sysrq-trigger; do "
                        "n=$((n+1)); (: >> \"$f\") 2>/dev/null && "
                        "echo \"WRITABLE $f\"; done; echo \"checked $n\"",
                        timeout_s=60)
        self.assertNotIn("WRITABLE", out["output"], out)
        checked = int(out["output"].split("checked ")[-1])
        self.assertGreater(checked, 100, out)
        # Control: host root may open them (so a uid-0 command could).
        self.assertTrue(os.access("/proc/sys/kernel/core_pattern", os.W_OK))

    def test_fork_loop_stops_at_the_limit_and_the_host_is_fine(self):
        sid = self.sandbox("fork")
        # Counted with shell built-ins only: at the cap, nothing forks.
        out = self.exec(sid, "(for i in $(seq 400); do sleep 30 & done) "
                        "2>/dev/null; set -- /proc/[0-9]*; echo $#; "
                        "kill -9 -1 2>/dev/null; echo done")
        lines = out["output"].split()
        self.assertIn("done", lines, out)
        count = int(lines[0])
        self.assertLessEqual(count, PIDS, out)
        self.assertGreater(count, PIDS // 2, out)  # it did hit the cap
        # The host: the pool answers, and the host still forks.
        self.assertEqual(self.stack.get("/", timeout=TIMEOUT).status, 200)
        self.assertEqual(os.system("true"), 0)
        # Nothing of the loop is left on the host.
        self.assertEqual(pids_running(["sleep", "30"]), [])

    def test_root_only_files_are_unreadable(self):
        sid = self.sandbox("secret")
        secret = os.path.join(self.home(sid), "root-secret")
        with open(secret, "w") as f:
            f.write("s3cret-value\n")
        os.chown(secret, 0, 0)
        os.chmod(secret, 0o600)
        out = self.exec(sid, "cat /home/omni/root-secret; "
                        "ls /etc/ssl/private; cat /etc/ssl/private/*; "
                        "cat /etc/shadow; echo end")
        self.assertNotIn("s3cret-value", out["output"], out)
        self.assertIn("end", out["output"], out)
        # Control: host root reads it.
        with open(secret) as f:
            self.assertEqual(f.read(), "s3cret-value\n")
        if os.path.isdir("/etc/ssl/private"):
            self.assertNotIn("snakeoil", out["output"], out)

    def test_memory_bound(self):
        sid = self.sandbox("mem")
        # Two processes of 100 MiB each: under 160 MiB per process, over
        # it for the sandbox as a whole.
        dd = "dd if=/dev/zero of=/dev/null bs=100M count=30 2>/dev/null"
        out = self.exec(sid, "%s & a=$!; %s & b=$!; wait $a; ra=$?; "
                        "wait $b; rb=$?; echo \"rc $ra $rb\"" % (dd, dd))
        codes = [int(x) for x in out["output"].split("rc ")[-1].split()]
        if self.CGROUP == "off":
            # The documented fallback: per-process bounds only.
            self.assertEqual(codes, [0, 0], out)
        else:
            self.assertTrue(any(c != 0 for c in codes), out)
        # One process alone over the bound fails either way (RLIMIT_AS).
        out = self.exec(sid, "dd if=/dev/zero of=/dev/null bs=200M "
                        "count=1 2>/dev/null; echo \"rc $?\"")
        self.assertNotIn("rc 0", out["output"], out)


class IsolationRefused(unittest.TestCase):
    """Isolation that cannot be set up refuses start-up: one line naming
    the variable, exit 78 (as without bubblewrap)."""

    def start(self, **env):
        run_dir = tempfile.mkdtemp(prefix="omni-escape-")
        self.addCleanup(shutil.rmtree, run_dir, True)
        full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "OMNI_DATA_DIR": os.path.join(run_dir, "data"),
                "SANDBOX_PROVIDER": "local"}
        full.update(env)
        return subprocess.run(
            [harness.omni_bin(), "--listen", "127.0.0.1:%d" %
             harness.free_port(), "--workers", "1"], env=full,
            capture_output=True, text=True, timeout=30)

    def test_missing_sandbox_user_as_root(self):
        if os.geteuid() != 0:
            self.skipTest("the sandbox user is needed only as root")
        p = self.start(OMNI_SANDBOX_USER="omni-no-such-user")
        self.assertEqual(p.returncode, 78, p)
        lines = [l for l in p.stderr.splitlines() if l.startswith("omni")]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("OMNI_SANDBOX_USER", lines[0])

    def test_named_cgroup_that_is_not_one(self):
        p = self.start(OMNI_SANDBOX_CGROUP="/proc")
        self.assertEqual(p.returncode, 78, p)
        lines = [l for l in p.stderr.splitlines() if l.startswith("omni")]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("cgroup", lines[0])


class ContainmentNginx(Containment, unittest.TestCase):
    FRONT = "nginx"


class ContainmentCaddy(Containment, unittest.TestCase):
    FRONT = "caddy"


class ContainmentFallbackNginx(Containment, unittest.TestCase):
    """OMNI_SANDBOX_CGROUP=off: the sandbox user's RLIMIT_NPROC is the
    process bound (for all sandboxes together), memory per process."""
    FRONT = "nginx"
    CGROUP = "off"


if __name__ == "__main__":
    unittest.main()
