"""The egress recipe of docs/deploy.md (deploy/egress/): the nftables
ruleset, the script that fills its address sets, and the systemd units.

Everything that loads rules does so inside network namespaces this test
creates (unshare --net, or `ip netns add` with names unique to the test
process) and deletes afterwards; the host's own ruleset is never touched.
The connection test joins two such namespaces with a veth pair and uses
documentation addresses (192.0.2.0/24) that exist only there: nothing
leaves the machine.  Needs root, nft (scripts/deps.sh installs nftables)
and ip; skipped without them.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

EGRESS = os.path.join(harness.REPO, "deploy", "egress")
RULESET = os.path.join(EGRESS, "omni-egress.nft")
REFRESH = os.path.join(EGRESS, "refresh-sets.sh")
TEST_UID = 65534  # nobody: the "pool" user of these tests
SYSTEM_PYTHON = "/usr/bin/python3"  # readable by nobody, unlike a pyenv one


def need_root_nft():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (network namespaces, nft)")
    for tool in ("nft", "unshare"):
        if shutil.which(tool) is None:
            raise unittest.SkipTest("%s not installed (scripts/deps.sh)"
                                    % tool)


def ruleset_for(uid, directory):
    """The shipped ruleset with its user replaced by 'uid'."""
    with open(RULESET, encoding="utf-8") as f:
        text = f.read()
    lines = text.splitlines()
    defines = [i for i, l in enumerate(lines)
               if l.startswith("define OMNI_UID = ")]
    assert len(defines) == 1, "the ruleset must define OMNI_UID once"
    lines[defines[0]] = "define OMNI_UID = %d" % uid
    path = os.path.join(directory, "omni-egress.nft")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def run(argv, timeout=30, **kw):
    return subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout, **kw)


def in_new_netns(script, timeout=60):
    """Run a shell script in a fresh network namespace of its own."""
    return run(["unshare", "--net", "sh", "-ec", script], timeout=timeout)


class Ruleset(unittest.TestCase):
    """omni-egress.nft and refresh-sets.sh, each in a namespace of its own."""

    @classmethod
    def setUpClass(cls):
        need_root_nft()
        cls.dir = tempfile.mkdtemp(prefix="omni-egress-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.nft = ruleset_for(TEST_UID, cls.dir)

    def conf(self, name, **values):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            for k, v in values.items():
                f.write('%s="%s"\n' % (k, v))
        return path

    def test_syntax_check(self):
        done = in_new_netns("nft -c -f '%s'" % self.nft)
        self.assertEqual(done.returncode, 0, done.stderr)
        # The check is real: a broken copy fails it.
        broken = os.path.join(self.dir, "broken.nft")
        with open(self.nft) as f, open(broken, "w") as g:
            g.write(f.read().replace("jump omni_out", "jump no_such_chain"))
        done = in_new_netns("nft -c -f '%s'" % broken)
        self.assertNotEqual(done.returncode, 0)

    def test_loads_twice_and_the_sets_fill(self):
        state = tempfile.mkdtemp(dir=self.dir)
        conf = self.conf("fill.conf",
                         DAYTONA_HOSTS="192.0.2.2 198.51.100.0/24 localhost",
                         INNGEST_HOSTS="2001:db8::5",
                         RESOLVERS="192.0.2.53")
        # getaddrinfo answers for a name only on a host with an address
        # besides loopback (AI_ADDRCONFIG): give the namespace one.
        done = in_new_netns(
            "ip link set lo up\n"
            "ip link add oegv0 type veth peer name oegv1\n"
            "ip addr add 192.0.2.1/24 dev oegv0\n"
            "ip link set oegv0 up\nip link set oegv1 up\n"
            "nft -f '{nft}'\nnft -f '{nft}'\n"
            "'{refresh}' -c '{conf}' -s '{state}'\n"
            "nft -j list table inet omni_egress\n".format(
                nft=self.nft, refresh=REFRESH, conf=conf, state=state))
        self.assertEqual(done.returncode, 0, done.stderr)
        doc = json.loads(done.stdout.splitlines()[-1])
        chains = [o["chain"]["name"] for o in doc["nftables"] if "chain" in o]
        self.assertEqual(sorted(chains), ["omni_out", "output"])
        sets = {o["set"]["name"]: o["set"].get("elem", [])
                for o in doc["nftables"] if "set" in o}
        self.assertEqual(sorted(sets), sorted(
            n + f for n in ("resolvers", "daytona", "inngest", "agent")
            for f in "46"))

        def flat(elems):
            out = []
            for e in elems:
                if isinstance(e, dict) and "prefix" in e:
                    out.append("%s/%d" % (e["prefix"]["addr"],
                                          e["prefix"]["len"]))
                else:
                    out.append(e)
            return sorted(out)
        self.assertEqual(flat(sets["daytona4"]),
                         ["127.0.0.1", "192.0.2.2", "198.51.100.0/24"])
        self.assertEqual(flat(sets["inngest6"]), ["2001:db8::5"])
        self.assertEqual(flat(sets["resolvers4"]), ["192.0.2.53"])
        self.assertEqual(sets["agent4"], [])
        # The addresses are remembered for the next refresh.
        with open(os.path.join(state, "daytona4.seen")) as f:
            self.assertEqual(len(f.read().splitlines()), 3)

    def test_remembered_addresses_stay_until_keep_seconds(self):
        state = tempfile.mkdtemp(dir=self.dir)
        first = self.conf("a.conf", DAYTONA_HOSTS="192.0.2.2 192.0.2.7",
                          RESOLVERS="192.0.2.53")
        second = self.conf("b.conf", DAYTONA_HOSTS="192.0.2.2",
                           RESOLVERS="192.0.2.53")
        forget = self.conf("c.conf", DAYTONA_HOSTS="192.0.2.2",
                           RESOLVERS="192.0.2.53", KEEP_SECONDS="0")
        done = in_new_netns(
            "nft -f '{nft}'\n"
            "'{r}' -c '{a}' -s '{s}' >/dev/null\n"
            "'{r}' -c '{b}' -s '{s}' >/dev/null\n"
            "nft list set inet omni_egress daytona4\n"
            "echo ---\n"
            "'{r}' -c '{c}' -s '{s}' >/dev/null\n"
            "nft list set inet omni_egress daytona4\n".format(
                nft=self.nft, r=REFRESH, a=first, b=second, c=forget,
                s=state))
        self.assertEqual(done.returncode, 0, done.stderr)
        kept, forgotten = done.stdout.split("---")
        self.assertIn("192.0.2.7", kept)      # seen an instant ago
        self.assertNotIn("192.0.2.7", forgotten)
        self.assertIn("192.0.2.2", forgotten)

    def test_a_name_that_does_not_resolve_is_reported(self):
        state = tempfile.mkdtemp(dir=self.dir)
        conf = self.conf("bad.conf", DAYTONA_HOSTS="192.0.2.2",
                         INNGEST_HOSTS="no-such-host.invalid",
                         RESOLVERS="192.0.2.53")
        done = in_new_netns(
            "nft -f '{nft}'\n"
            "rc=0; '{r}' -c '{c}' -s '{s}' || rc=$?\n"
            "echo rc=$rc\n"
            "nft list set inet omni_egress daytona4\n".format(
                nft=self.nft, r=REFRESH, c=conf, s=state))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("rc=1", done.stdout)
        self.assertIn("no-such-host.invalid", done.stderr)
        # The other sets were refreshed all the same.
        self.assertIn("192.0.2.2", done.stdout)

    def test_without_the_table_the_refresh_fails_loudly(self):
        conf = self.conf("x.conf", DAYTONA_HOSTS="192.0.2.2")
        done = in_new_netns("'%s' -c '%s' -s '%s'" % (
            REFRESH, conf, tempfile.mkdtemp(dir=self.dir)))
        self.assertEqual(done.returncode, 2, done)
        self.assertIn("omni-egress.nft loaded", done.stderr)

    def test_dry_run_prints_one_transaction_and_changes_nothing(self):
        state = os.path.join(self.dir, "never-made")
        conf = self.conf("dry.conf", DAYTONA_HOSTS="192.0.2.2",
                         RESOLVERS="192.0.2.53")
        done = run([REFRESH, "-n", "-c", conf, "-s", state])
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("flush set inet omni_egress daytona4", done.stdout)
        self.assertIn("add element inet omni_egress daytona4 { 192.0.2.2 }",
                      done.stdout)
        self.assertFalse(os.path.exists(state))


SERVER = r"""
import select, socket, sys, time
socks = []
for port in (443, 8443, 53):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(16)
    socks.append(s)
print("listening", flush=True)
end = time.monotonic() + 120
while time.monotonic() < end:
    ready, _, _ = select.select(socks, [], [], 0.5)
    for s in ready:
        c, _ = s.accept()
        c.sendall(b"hi")
        c.close()
"""

PROBE = r"""
import json, socket, sys, time
t = time.monotonic()
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])),
                                  timeout=5) as s:
        out = {"ok": s.recv(2) == b"hi"}
except OSError as exc:
    out = {"ok": False, "error": type(exc).__name__}
out["seconds"] = time.monotonic() - t
print(json.dumps(out))
"""


class Filtering(unittest.TestCase):
    """The loaded rules in a namespace 'pool host' (192.0.2.1) joined by a
    veth pair to a namespace 'internet' (192.0.2.2 allowed as Daytona,
    192.0.2.3 allowed as a resolver and nothing else): what a process of
    the pool's user may reach, and what root may."""

    @classmethod
    def setUpClass(cls):
        need_root_nft()
        if shutil.which("ip") is None or shutil.which("setpriv") is None:
            raise unittest.SkipTest("ip (iproute2) or setpriv missing")
        if not os.access(SYSTEM_PYTHON, os.X_OK):
            raise unittest.SkipTest("%s missing" % SYSTEM_PYTHON)
        cls.dir = tempfile.mkdtemp(prefix="omni-egress-ns-")
        os.chmod(cls.dir, 0o755)
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        tag = "%d" % os.getpid()
        cls.host, cls.net = "omni-eg-%s-h" % tag, "omni-eg-%s-n" % tag
        veth_h, veth_n = "oeg%sh" % tag, "oeg%sn" % tag
        for ns in (cls.host, cls.net):
            done = run(["ip", "netns", "add", ns])
            if done.returncode != 0:
                raise unittest.SkipTest("ip netns add: %s" % done.stderr)
            cls.addClassCleanup(run, ["ip", "netns", "del", ns])
        steps = [
            ["ip", "link", "add", veth_h, "type", "veth", "peer", "name",
             veth_n],
            ["ip", "link", "set", veth_h, "netns", cls.host],
            ["ip", "link", "set", veth_n, "netns", cls.net],
            ["ip", "-n", cls.host, "addr", "add", "192.0.2.1/24", "dev",
             veth_h],
            ["ip", "-n", cls.net, "addr", "add", "192.0.2.2/24", "dev",
             veth_n],
            ["ip", "-n", cls.net, "addr", "add", "192.0.2.3/24", "dev",
             veth_n],
            ["ip", "-n", cls.host, "link", "set", "lo", "up"],
            ["ip", "-n", cls.net, "link", "set", "lo", "up"],
            ["ip", "-n", cls.host, "link", "set", veth_h, "up"],
            ["ip", "-n", cls.net, "link", "set", veth_n, "up"],
        ]
        for argv in steps:
            done = run(argv)
            if done.returncode != 0:
                raise AssertionError("%s: %s" % (" ".join(argv),
                                                 done.stderr))
        cls.server = harness.spawn(
            ["ip", "netns", "exec", cls.net, SYSTEM_PYTHON, "-c", SERVER],
            "internet", cls.dir)
        cls.addClassCleanup(cls.server.stop)
        # A listener on the pool host's own loopback.
        cls.local = harness.spawn(
            ["ip", "netns", "exec", cls.host, SYSTEM_PYTHON, "-c", SERVER],
            "local", cls.dir)
        cls.addClassCleanup(cls.local.stop)
        harness.wait_until(lambda: "listening" in cls.server.log()
                           and "listening" in cls.local.log(), 10,
                           what="the test servers")
        nft = ruleset_for(TEST_UID, cls.dir)
        conf = os.path.join(cls.dir, "egress.conf")
        with open(conf, "w") as f:
            f.write('DAYTONA_HOSTS="192.0.2.2"\nINNGEST_HOSTS=""\n'
                    'RESOLVERS="192.0.2.3"\n')
        for argv in (["nft", "-f", nft],
                     [REFRESH, "-c", conf, "-s",
                      os.path.join(cls.dir, "state")]):
            done = run(["ip", "netns", "exec", cls.host] + argv)
            if done.returncode != 0:
                raise AssertionError("%s: %s" % (argv, done.stderr))

    def probe(self, host, port, uid=TEST_UID):
        argv = ["ip", "netns", "exec", self.host]
        if uid != 0:
            argv += ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid,
                     "--clear-groups"]
        done = run(argv + [SYSTEM_PYTHON, "-c", PROBE, host, str(port)])
        self.assertEqual(done.returncode, 0, done.stderr)
        return json.loads(done.stdout)

    def assert_refused_at_once(self, got):
        self.assertFalse(got["ok"], got)
        # A reset, not a silent drop: the call fails at once.
        self.assertEqual(got.get("error"), "ConnectionRefusedError", got)
        self.assertLess(got["seconds"], 2.0, got)

    def refused_count(self):
        done = run(["ip", "netns", "exec", self.host, "nft", "-j", "list",
                    "chain", "inet", "omni_egress", "omni_out"])
        doc = json.loads(done.stdout)
        total = 0
        for o in doc["nftables"]:
            for e in o.get("rule", {}).get("expr", []):
                if "counter" in e:
                    total += e["counter"]["packets"]
        return total

    def test_the_pool_reaches_an_allowed_address(self):
        self.assertTrue(self.probe("192.0.2.2", 443)["ok"])

    def test_the_pool_is_refused_elsewhere(self):
        before = self.refused_count()
        self.assert_refused_at_once(self.probe("192.0.2.3", 443))
        # An allowed address on a port that is not allowed.
        self.assert_refused_at_once(self.probe("192.0.2.2", 8443))
        # The resolver's address on any port but 53.
        self.assert_refused_at_once(self.probe("192.0.2.3", 8443))
        self.assertGreaterEqual(self.refused_count() - before, 3)

    def test_the_pool_reaches_its_resolver_and_loopback(self):
        self.assertTrue(self.probe("192.0.2.3", 53)["ok"])
        self.assertTrue(self.probe("127.0.0.1", 8443)["ok"])

    def test_other_users_are_not_restricted(self):
        self.assertTrue(self.probe("192.0.2.3", 443, uid=0)["ok"])
        self.assertTrue(self.probe("192.0.2.2", 8443, uid=0)["ok"])

    def test_a_refresh_that_drops_an_address_takes_effect(self):
        conf = os.path.join(self.dir, "later.conf")
        with open(conf, "w") as f:
            f.write('DAYTONA_HOSTS="192.0.2.3"\nRESOLVERS="192.0.2.3"\n'
                    'KEEP_SECONDS=0\n')
        state = tempfile.mkdtemp(dir=self.dir)
        try:
            done = run(["ip", "netns", "exec", self.host, REFRESH, "-c",
                        conf, "-s", state])
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assert_refused_at_once(self.probe("192.0.2.2", 443))
            self.assertTrue(self.probe("192.0.2.3", 443)["ok"])
        finally:
            conf0 = os.path.join(self.dir, "egress.conf")
            run(["ip", "netns", "exec", self.host, REFRESH, "-c", conf0,
                 "-s", tempfile.mkdtemp(dir=self.dir)])
        self.assertTrue(self.probe("192.0.2.2", 443)["ok"])


class Units(unittest.TestCase):
    """systemd-analyze verify accepts the units and the omni.service
    drop-in, and the drop-in's rules are what the recipe says."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("systemd-analyze") is None:
            raise unittest.SkipTest("systemd-analyze missing")
        cls.dir = tempfile.mkdtemp(prefix="omni-egress-units-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)

    def copy(self, name, target_dir=None):
        """A unit with its installed paths pointed at files that exist
        here (verify checks that every command is executable)."""
        with open(os.path.join(EGRESS, name)) as f:
            text = f.read()
        text = text.replace("/usr/local/sbin/omni-egress-refresh", REFRESH)
        text = text.replace("/usr/sbin/nft", shutil.which("nft")
                            or "/bin/true")
        out = os.path.join(target_dir or self.dir, name)
        with open(out, "w") as f:
            f.write(text)
        return out

    def verify(self, *paths):
        return run(["systemd-analyze", "verify"] + list(paths), timeout=60,
                   env=dict(os.environ, SYSTEMD_LOG_LEVEL="notice"))

    def test_units_verify(self):
        paths = [self.copy(n) for n in ("omni-egress.service",
                                        "omni-egress-refresh.service",
                                        "omni-egress-refresh.timer")]
        done = self.verify(*paths)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stderr.strip(), "", done.stderr)

    def test_drop_in_verifies_and_takes_no_names(self):
        unit_dir = tempfile.mkdtemp(dir=self.dir)
        unit = os.path.join(unit_dir, "omni.service")
        with open(unit, "w") as f:
            f.write("[Unit]\nDescription=Omni FastCGI pool\n[Service]\n"
                    "ExecStart=/bin/true\n")
        drop = os.path.join(unit_dir, "omni.service.d")
        os.makedirs(drop)
        path = self.copy("omni-egress.conf", drop)
        with open(path) as f:
            text = f.read()
        live = [l for l in text.splitlines()
                if l and not l.startswith("#")]
        self.assertEqual(live, ["[Service]", "IPAddressDeny=any",
                                "IPAddressAllow=localhost"])
        done = self.verify(unit)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stderr.strip(), "", done.stderr)
        # verify reads the drop-in: a host name there is refused.
        with open(path, "a") as f:
            f.write("IPAddressAllow=app.daytona.io\n")
        done = self.verify(unit)
        self.assertIn("app.daytona.io", done.stderr)
        self.assertIn("invalid", done.stderr)


if __name__ == "__main__":
    unittest.main()
