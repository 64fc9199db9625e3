#!/usr/bin/env python3
"""Run every tests/integration/test_*.py and print one closing line.

  tests/integration/run_all.py [-k PATTERN] [test_file.py ...]

Each test prints one line ("ok   name (1.2s)", "FAIL name", "SKIP name:
reason"); failures and errors are detailed after the run; the last line is
exactly "N passed, M failed" (", K skipped" when some were skipped).  Exit
status 0 only when nothing failed and at least one test ran.  The binary
under test is $OMNI_BIN (default build/omni-fcgi), see harness.py.
Python 3 standard library only.
"""

import argparse
import glob
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class LineResult(unittest.TestResult):
    """One line per test, flushed as it ends."""

    def __init__(self):
        super().__init__()
        self.passed = 0
        # Reset when each test starts and stops, so a setUpClass error
        # reports the time since the previous test.
        self._t0 = time.monotonic()

    def startTest(self, test):
        super().startTest(test)
        self._t0 = time.monotonic()

    def stopTest(self, test):
        super().stopTest(test)
        self._t0 = time.monotonic()

    def _line(self, word, test, extra=""):
        took = time.monotonic() - self._t0
        print("%-4s %s (%.1fs)%s" % (word, test.id(), took, extra),
              flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1
        self._line("ok", test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line("FAIL", test)

    def addError(self, test, err):
        super().addError(test, err)
        self._line("FAIL", test, " error")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line("SKIP", test, ": " + reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.passed += 1
        self._line("ok", test, " (expected failure)")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line("FAIL", test, " unexpected success")


def load(files, pattern):
    loader = unittest.TestLoader()
    if pattern:
        loader.testNamePatterns = ["*%s*" % pattern]
    suite = unittest.TestSuite()
    for path in files:
        name = os.path.splitext(os.path.basename(path))[0]
        suite.addTests(loader.loadTestsFromName(name))
    return suite


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", dest="pattern", help="only tests matching")
    ap.add_argument("files", nargs="*", help="test files (default: all)")
    args = ap.parse_args()
    files = args.files or sorted(glob.glob(os.path.join(HERE, "test_*.py")))
    result = LineResult()
    started = time.monotonic()
    try:
        suite = load(files, args.pattern)
    except Exception as exc:  # noqa: BLE001 - an import error is a failure
        print("FAIL loading tests: %r" % exc)
        print("0 passed, 1 failed")
        return 1
    suite.run(result)
    for kind, items in (("FAIL", result.failures), ("ERROR", result.errors)):
        for test, trace in items:
            print("=" * 70)
            print("%s: %s" % (kind, test.id() if hasattr(test, "id")
                              else test))
            print(trace)
    # unexpected successes count as failures; a setUpClass error is one
    # failure however many tests it stopped.
    failed = (len(result.failures) + len(result.errors)
              + len(result.unexpectedSuccesses))
    skipped = len(result.skipped)
    print("integration: %.1fs" % (time.monotonic() - started))
    line = "%d passed, %d failed" % (result.passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    if failed == 0 and result.passed == 0:
        print("no test ran")
        return 1
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
