#!/usr/bin/env python3
"""Run Omni's test suites and print one closing line: "N passed, M failed".

  tests/run.py --build build [--asan-build build/asan] [--only unit|integration]

For each build directory: every cmocka binary in BUILD/tests/, then the
integration suite (tests/integration/run_all.py) against BUILD/omni-fcgi.
After the suites, the valgrind leak check of a worker under a request mix
runs against the plain build, and then `make fuzz-smoke` runs each
libFuzzer target for 5 seconds (tests/fuzz/README.md; skipped without
clang).  Exit status 0 only if nothing failed.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CMOCKA_PASSED = re.compile(r"\[  PASSED  \] (\d+) test")
CMOCKA_FAILED = re.compile(r"\[  FAILED  \] (\d+) test")
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$", re.M)

totals = {"passed": 0, "failed": 0, "skipped": 0}


def run_unit(build):
    tdir = os.path.join(ROOT, build, "tests")
    bins = sorted(f for f in os.listdir(tdir)
                  if f.startswith("test_") and "." not in f) \
        if os.path.isdir(tdir) else []
    if not bins:
        print(f"unit[{build}]: no test binaries in {tdir}")
        totals["failed"] += 1
        return
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    for b in bins:
        t0 = time.monotonic()
        try:
            p = subprocess.run([os.path.join(tdir, b)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=300, text=True, errors="replace")
            out, rc = p.stdout, p.returncode
        except subprocess.TimeoutExpired as e:
            # The partial output arrives as bytes even in text mode.
            partial = e.stdout or b""
            if isinstance(partial, bytes):
                partial = partial.decode("utf-8", "replace")
            out, rc = partial + "\nTIMEOUT\n", -1
        passed = sum(int(n) for n in CMOCKA_PASSED.findall(out))
        failed = sum(int(n) for n in CMOCKA_FAILED.findall(out))
        if rc != 0 and failed == 0:
            failed = 1  # crashed, sanitizer report, or timed out
        totals["passed"] += passed
        totals["failed"] += failed
        status = "ok" if failed == 0 else "FAIL"
        print(f"unit[{build}] {b}: {passed} passed, {failed} failed "
              f"({time.monotonic() - t0:.1f}s) {status}")
        if failed:
            print(out[-6000:])


def run_script(label, cmd, env):
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, errors="replace")
    out = p.stdout
    m = SUMMARY.findall(out)
    passed, failed, skipped = (int(m[-1][0]), int(m[-1][1]),
                               int(m[-1][2] or 0)) if m else (0, 1, 0)
    if p.returncode != 0 and failed == 0:
        failed = 1
    totals["passed"] += passed
    totals["failed"] += failed
    totals["skipped"] += skipped
    print(f"{label}: {passed} passed, {failed} failed, {skipped} skipped "
          f"({time.monotonic() - t0:.1f}s)")
    if failed:
        print(out[-20000:])
    else:
        # Keep the per-test lines visible in CI logs.
        print("\n".join(l for l in out.splitlines()
                        if l.startswith(("ok ", "FAIL", "SKIP", "test_"))))


def run_integration(build):
    binary = os.path.join(ROOT, build, "omni-fcgi")
    env = dict(os.environ, OMNI_BIN=binary,
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1")
    run_script(f"integration[{build}]",
               [sys.executable, "tests/integration/run_all.py"], env)


FUZZ_LINE = re.compile(r"^fuzz (\S+): (ok|FAIL)", re.M)


def run_fuzz_smoke():
    """make fuzz-smoke: each libFuzzer target is one test."""
    if shutil.which("clang") is None:
        print("fuzz: skipped (clang not found)")
        totals["skipped"] += 1
        return
    t0 = time.monotonic()
    p = subprocess.run(["make", "--no-print-directory", "fuzz-smoke"],
                       cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, errors="replace")
    out = p.stdout
    lines = FUZZ_LINE.findall(out)
    passed = sum(1 for _, r in lines if r == "ok")
    failed = sum(1 for _, r in lines if r == "FAIL")
    if p.returncode != 0 and failed == 0:
        failed = 1  # the build failed before any target ran
    totals["passed"] += passed
    totals["failed"] += failed
    print(f"fuzz-smoke: {passed} passed, {failed} failed "
          f"({time.monotonic() - t0:.1f}s)")
    if failed:
        print(out[-20000:])
    else:
        print("\n".join(l for l in out.splitlines() if l.startswith("fuzz ")))


def run_image():
    """The production image built and run (tests/image/test_image.py),
    where buildah and debootstrap are installed (.ci/run installs them)."""
    if shutil.which("buildah") is None or shutil.which("debootstrap") is None:
        print("image: skipped (buildah or debootstrap not installed)")
        totals["skipped"] += 1
        return
    run_script("image", [sys.executable, "tests/image/test_image.py"],
               dict(os.environ))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--asan-build")
    ap.add_argument("--only", choices=["unit", "integration"])
    a = ap.parse_args()
    builds = [a.build] + ([a.asan_build] if a.asan_build else [])
    for b in builds:
        if a.only in (None, "unit"):
            run_unit(b)
    for b in builds:
        if a.only in (None, "integration"):
            run_integration(b)
    if a.only is None and os.path.exists(
            os.path.join(ROOT, "tests/integration/valgrind_check.py")):
        run_script("valgrind", [sys.executable,
                                "tests/integration/valgrind_check.py",
                                "--bin", os.path.join(ROOT, a.build,
                                                      "omni-fcgi")],
                   dict(os.environ))
    if a.only is None:
        run_fuzz_smoke()
        run_image()
    line = f"{totals['passed']} passed, {totals['failed']} failed"
    if totals["skipped"]:
        line += f", {totals['skipped']} skipped"
    print(line)
    return 0 if totals["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
