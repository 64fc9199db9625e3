"""The example agent (sandbox-image/workspace/.omni-system/example-agent.sh).

The stand-in for the agent CLI that `make run` uses when there is no AI
account.  Each test copies sandbox-image/workspace to a temporary home and
runs the script there the way Omni does (`SHELL .omni-system/example-agent.sh
--model MODEL`, the notes on stdin), under dash, under the system sh and,
where it is installed, under busybox with only busybox's applets on PATH.

Checked: the metrics of a realistic founder note land in metrics/current.json
and the dated history file as exact JSON numbers, fields the notes do not
mention stay as they were, the memo lists the numbers and every line of the
notes byte for byte, the last stdout line is the final JSON object and names
files that exist, a second run writes a -2 memo, empty input and a missing
workspace exit 2, 200 KB of notes (also a long line of near misses) take a
moment, and nothing in the notes runs.

Needs no Omni binary, no network and no service: Python 3 standard library
and the shells only.
"""

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TEMPLATE = os.path.join(ROOT, "sandbox-image", "workspace")
SCRIPT = ".omni-system/example-agent.sh"
TIMEOUT = 30.0
# what busybox must provide for the script
BUSYBOX_APPLETS = ("sh", "awk", "sed", "grep", "tr", "date", "mkdir", "mv",
                   "cat", "mktemp", "rm", "printf")

NOTES = """Monthly check-in, March
- MRR $48k, up from 42k
- 12 customers, burn 30k/month, runway 14 months
- hired two engineers, headcount 8
Voice note: so, quick one. We grew 12.5% MoM, which is the best month yet,
and we still have $1.2M cash in the bank. Jane Doe at Example Ventures wants
the update by Friday. It's "good" news; $(touch pwned) `touch pwned2` stays
text; ; touch pwned3 && touch pwned4 | touch pwned5
"""

TRICKY_LINES = [
    'She said "ship it" and it\'s done',
    "$(touch pwned) and ${HOME} and $HOME stay text",
    "`touch pwned2` too, and a back\\slash\\n and \\\\ two",
    "-starts with a dash, not a bullet",
    "--model evil --flag",
    "- a real bullet: MRR $48k",
    "caf\u00e9 \u20ac \U0001f680 \u4e2d\u6587 Zo\u00eb M\u00fcller",
    "* star, # hash, <b>html</b>, [link](x), 100% | pipe",
    "%s %d %n printf-looking; awk $1 $0 and \\t",
]


def run_agent(shell_argv, home, notes, *args, env=None, timeout=TIMEOUT):
    if isinstance(notes, str):
        notes = notes.encode()
    return subprocess.run(
        list(shell_argv) + [SCRIPT] + list(args or ("--model", "example-model")),
        input=notes, cwd=home, capture_output=True, timeout=timeout, env=env)


def final_json(proc):
    lines = proc.stdout.decode().splitlines()
    if not lines:
        raise AssertionError("no stdout; stderr: %r" % proc.stderr)
    return json.loads(lines[-1])


def utc_dates():
    """Today's UTC date, and the one after (a run across midnight)."""
    now = datetime.datetime.now(datetime.timezone.utc).date()
    return {now.isoformat(), (now + datetime.timedelta(days=1)).isoformat()}


class AgentCase:
    """The tests; a subclass sets SHELL (argv prefix) and maybe PATH."""

    SHELL = None
    PATH = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="omni-exagent-")
        self.home = os.path.join(self.tmp, "home")
        shutil.copytree(TEMPLATE, self.home)
        self.env = dict(os.environ)
        if self.PATH:
            self.env["PATH"] = self.PATH

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_notes(self, notes, *args, **kw):
        kw.setdefault("env", self.env)
        return run_agent(self.SHELL, self.home, notes, *args, **kw)

    def ok(self, notes, *args, **kw):
        p = self.run_notes(notes, *args, **kw)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        return p, final_json(p)

    def read(self, rel, mode="r"):
        with open(os.path.join(self.home, rel), mode) as f:
            return f.read()

    def metrics(self, rel="metrics/current.json"):
        return json.loads(self.read(rel))

    def memo_of(self, out):
        memos = [f for f in out["files"] if f.startswith("deliverables/memos/")]
        self.assertEqual(len(memos), 1, out)
        return memos[0]

    def assert_no_temp_left(self):
        left = []
        for d in (".omni", "metrics", "metrics/history", "deliverables/memos"):
            full = os.path.join(self.home, d)
            left += [os.path.join(d, n) for n in os.listdir(full)
                     if n.startswith(".") or "example-agent" in n]
        self.assertEqual(left, [])

    # -- metrics --

    def test_metrics_of_a_founder_note(self):
        before = self.metrics()
        _, out = self.ok(NOTES)
        m = self.metrics()
        expect = {"mrr": 48000, "customers": 12, "burn": 30000,
                  "runway_months": 14, "headcount": 8,
                  "growth_mom_pct": 12.5, "cash": 1200000}
        for k, v in expect.items():
            self.assertEqual(m[k], v, k)
            self.assertIs(type(m[k]), type(v), k)   # a number, not "48k"
        # what the notes do not say stays as it was
        self.assertIsNone(m["arr"])
        self.assertEqual(m["currency"], before["currency"])
        self.assertEqual(m["custom"], before["custom"])
        self.assertEqual(set(m), set(before))
        self.assertIn(m["as_of"], utc_dates())
        hist = "metrics/history/%s.json" % m["as_of"]
        self.assertEqual(self.metrics(hist), m)
        self.assertEqual(out["files"][:2], ["metrics/current.json", hist])
        self.assert_no_temp_left()

    def test_fields_already_there_are_kept(self):
        seeded = {"as_of": "2025-01-31", "currency": "EUR", "mrr": 40000,
                  "arr": 480000, "customers": 10, "burn": None,
                  "runway_months": None, "cash": 900000.5, "headcount": 6,
                  "growth_mom_pct": None,
                  "custom": {"nps": 42, "note": "a \"quoted\" } value",
                             "list": [1, {"x": "]"}]},
                  "extra_field": ["kept", True, None]}
        with open(os.path.join(self.home, "metrics/current.json"), "w") as f:
            f.write(json.dumps(seeded))     # one line: any layout is read
        self.ok("- MRR: 48,000 and 14 customers\n")
        m = self.metrics()
        want = dict(seeded, mrr=48000, customers=14)
        want["as_of"] = m["as_of"]
        self.assertIn(m["as_of"], utc_dates())
        self.assertEqual(m, want)
        memo = self.read("deliverables/memos/%s-notes.md" % m["as_of"])
        self.assertIn("- MRR: 48000 EUR (was 40000)", memo)

    def test_patterns(self):
        cases = [
            ("MRR $48k", {"mrr": 48000}),
            ("MRR: 48,000", {"mrr": 48000}),
            ("48k MRR", {"mrr": 48000}),
            ("mrr is now $48.5K", {"mrr": 48500}),
            ("**ARR**: $1.2mm", {"arr": 1200000}),
            ("$1.2M cash", {"cash": 1200000}),
            ("we have $1.2 million in the bank", {"cash": 1200000}),
            ("burn 30k/month", {"burn": 30000}),
            ("burn rate of $30,000 per month", {"burn": 30000}),
            ("runway 14 months", {"runway_months": 14}),
            ("14 months of runway", {"runway_months": 14}),
            ("runway 1.5 years", {"runway_months": 18}),
            ("12 customers", {"customers": 12}),
            ("1,234 paying customers", {"customers": 1234}),
            ("headcount 8", {"headcount": 8}),
            ("we are an 8-person team", {"headcount": 8}),
            ("grew 12.5% MoM", {"growth_mom_pct": 12.5}),
            ("12.5% month-over-month growth", {"growth_mom_pct": 12.5}),
            ("2025 MRR 48k", {"mrr": 48000}),
            ("Cash: 20k, 12 Customers, RUNWAY: 9 MONTHS",
             {"cash": 20000, "customers": 12, "runway_months": 9}),
            # not what they seem: left alone
            ("burn 360k/year", {}),
            ("runway 6 weeks", {}),
            ("churn 3% MoM", {}),
            ("growth 40% YoY", {}),
            ("MRR \u20ac48k", {}),
            ("MRR 48k EUR", {}),
            ("we carry 5 boxes and arrive 6 days later", {}),
        ]
        names = ("mrr", "arr", "customers", "burn", "cash", "runway_months",
                 "headcount", "growth_mom_pct")
        for text, want in cases:
            with self.subTest(text=text):
                shutil.rmtree(self.home)
                shutil.copytree(TEMPLATE, self.home)
                self.ok(text + "\n")
                m = self.metrics()
                got = {k: m[k] for k in names if m[k] is not None}
                self.assertEqual(got, want)

    def test_no_metric_leaves_metrics_alone(self):
        before = self.read("metrics/current.json")
        _, out = self.ok("Call with the lawyer went fine.\n")
        self.assertEqual(self.read("metrics/current.json"), before)
        self.assertEqual(len(out["files"]), 1, out)
        self.memo_of(out)
        self.assertEqual(os.listdir(os.path.join(self.home, "metrics/history")),
                         ["README.md"])

    def test_broken_metrics_file_is_not_overwritten(self):
        path = os.path.join(self.home, "metrics/current.json")
        with open(path, "w") as f:
            f.write('{"mrr": 1,')
        p = self.run_notes("MRR 48k\n")
        self.assertEqual(p.returncode, 1, p)
        self.assertIn(b"not a JSON object", p.stderr)
        self.assertEqual(self.read("metrics/current.json"), '{"mrr": 1,')
        self.assert_no_temp_left()

    # -- memo --

    def test_memo_lists_numbers_and_every_line(self):
        notes = NOTES + "\n".join(TRICKY_LINES) + "\n\n   \n"
        p, out = self.ok(notes, "--model", "model-x")
        memo_path = self.memo_of(out)
        day = self.metrics()["as_of"]
        self.assertEqual(memo_path, "deliverables/memos/%s-notes.md" % day)
        raw = self.read(memo_path, "rb")
        memo = raw.decode("utf-8")     # the non-ASCII bytes came through
        self.assertTrue(memo.startswith("# "), memo[:80])
        numbers = memo.index("## Numbers")
        notes_at = memo.index("## Notes")
        self.assertLess(numbers, notes_at)
        nums = memo[numbers:notes_at]
        for label, value in (("MRR", "48000"), ("Customers", "12"),
                             ("Burn", "30000"), ("Cash", "1200000"),
                             ("Runway", "14"), ("Headcount", "8"),
                             ("Growth", "12.5")):
            self.assertIn("- %s: %s" % (label, value), nums)
        body = memo[notes_at:].splitlines()
        for line in notes.splitlines():
            line = line.strip()
            if not line:
                continue
            want = line if line.startswith("- ") else "- " + line
            self.assertIn(want, body, line)
            self.assertIn(line.encode(), raw)
        self.assertIn("example agent", memo)
        self.assertIn("model-x", memo.splitlines()[-1])
        for bad in ("TODO", "TBD", "[NAME]", "XX", "lorem"):
            self.assertNotIn(bad, memo)

    def test_second_run_writes_a_numbered_memo(self):
        _, one = self.ok(NOTES)
        _, two = self.ok("- MRR $50k\n")
        _, three = self.ok("- MRR $51k\n")
        first = self.memo_of(one)
        self.assertTrue(first.endswith("-notes.md"), first)
        self.assertEqual(self.memo_of(two), first[:-3] + "-2.md")
        self.assertEqual(self.memo_of(three), first[:-3] + "-3.md")
        self.assertIn("MRR $48k", self.read(first))       # not overwritten
        self.assertIn("(was 50000)", self.read(self.memo_of(three)))
        self.assertEqual(self.metrics()["mrr"], 51000)

    # -- output and exit status --

    def test_last_line_is_the_final_json(self):
        p, out = self.ok(NOTES)
        lines = p.stdout.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)   # progress goes to stderr
        self.assertEqual(set(out), {"result", "files"})
        self.assertIsInstance(out["result"], str)
        self.assertIn("7 metrics", out["result"])
        self.assertIn(self.memo_of(out), out["result"])
        self.assertEqual(len(out["files"]), 3, out)
        for rel in out["files"]:
            self.assertFalse(os.path.isabs(rel), rel)
            self.assertTrue(os.path.isfile(os.path.join(self.home, rel)), rel)
        self.assertTrue(p.stderr)

    def test_options(self):
        _, out = self.ok("MRR 1k\n", "-p", "--verbose", "--model=m-eq", "x")
        self.assertIn("m-eq", self.read(self.memo_of(out)))
        _, out = self.ok("MRR 2k\n", "--output-format", "json",
                         "--model", "m-two")
        self.assertIn("m-two", self.read(self.memo_of(out)))

    def test_empty_input_exits_2(self):
        for notes in (b"", b"\n", b" \t\n\n"):
            with self.subTest(notes=notes):
                p = self.run_notes(notes)
                self.assertEqual(p.returncode, 2, p)
                self.assertEqual(p.stdout, b"")
                self.assertIn(b"no notes", p.stderr)
        self.assertEqual(os.listdir(os.path.join(self.home,
                                                 "deliverables/memos")),
                         ["README.md"])
        self.assert_no_temp_left()

    def test_missing_workspace_exits_2(self):
        bare = os.path.join(self.tmp, "bare")
        os.mkdir(bare)
        shutil.copytree(os.path.join(TEMPLATE, ".omni-system"),
                        os.path.join(bare, ".omni-system"))
        p = run_agent(self.SHELL, bare, NOTES, env=self.env)
        self.assertEqual(p.returncode, 2, p)
        self.assertIn(b"metrics", p.stderr)
        self.assertEqual(sorted(os.listdir(bare)), [".omni-system"])

    def test_large_input_is_quick(self):
        big = (NOTES * 700)[:200 * 1024]
        near_misses = "mrr 5% growth 3% yoy 2025 mrr burn 3 years " * 5000
        for name, notes in (("notes", big), ("one long line", near_misses)):
            with self.subTest(name):
                t0 = time.monotonic()
                _, out = self.ok(notes)
                took = time.monotonic() - t0
                self.assertLess(took, 5.0, "%s took %.1fs" % (name, took))
                self.assertTrue(os.path.isfile(os.path.join(
                    self.home, self.memo_of(out))))
        self.assertEqual(self.metrics()["mrr"], 48000)

    def test_nothing_in_the_notes_runs(self):
        notes = NOTES + "\n".join(TRICKY_LINES) + "\n"
        notes += "'; touch pwned6; '\n\"; touch pwned7; \"\n"
        self.ok(notes)
        self.ok(notes)        # a second pass over a workspace it wrote
        for top in (self.tmp, ROOT, os.getcwd()):
            for dirpath, dirnames, filenames in os.walk(top):
                dirnames[:] = [d for d in dirnames if d not in (".git",)]
                hit = [n for n in filenames + dirnames
                       if n.startswith("pwned")]
                self.assertEqual(hit, [], dirpath)
                if top != self.tmp:
                    break       # the repository: its top level only


def _shell(name):
    path = shutil.which(name)
    return path and os.path.realpath(path)


class ExampleAgentDash(AgentCase, unittest.TestCase):
    SHELL = ("dash",)

    def setUp(self):
        if not _shell("dash"):
            self.skipTest("dash is not installed")
        super().setUp()


class ExampleAgentSh(AgentCase, unittest.TestCase):
    SHELL = ("sh",)


class ExampleAgentBusybox(AgentCase, unittest.TestCase):
    """busybox sh with only busybox's own awk, sed, grep... on PATH."""

    bin_dir = None

    @classmethod
    def setUpClass(cls):
        bb = _shell("busybox")
        if not bb:
            return
        cls.bin_dir = tempfile.mkdtemp(prefix="omni-exagent-bb-")
        for applet in BUSYBOX_APPLETS:
            os.symlink(bb, os.path.join(cls.bin_dir, applet))
        cls.SHELL = (bb, "sh")
        cls.PATH = cls.bin_dir

    @classmethod
    def tearDownClass(cls):
        if cls.bin_dir:
            shutil.rmtree(cls.bin_dir, ignore_errors=True)

    def setUp(self):
        if not self.bin_dir:
            self.skipTest("busybox is not installed")
        super().setUp()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    unittest.main()
