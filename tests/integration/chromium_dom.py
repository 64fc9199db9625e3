"""chromium_dom.py -- the DOM a real browser builds from a page, for tests.

Python 3 standard library only.  Runs Debian's headless Chromium once per
call with a fresh profile directory and returns what --dump-dom prints: the
document after parsing (and after any script, of which Omni's pages have
none), serialised by the browser.  A test can then check that markup the
server escaped stayed text.

API:

  dump_dom(url, timeout=30) -> str
                          the serialised DOM of 'url'; raises
                          ChromiumMissing when no chromium is on PATH,
                          ChromiumError when it fails or takes longer than
                          'timeout' seconds
  chromium_path() -> str  the browser that would run (or ChromiumMissing)

Chromium is started in a session of its own, so it leads a process group
that holds every helper it forks; when it is done, or on a timeout, that
group (and only it) is killed by its id, then the profile directory is
removed.  We run as root, hence --no-sandbox.

Run by hand:  python3 tests/integration/chromium_dom.py URL
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

__all__ = ["ChromiumError", "ChromiumMissing", "chromium_path", "dump_dom"]


class ChromiumError(RuntimeError):
    """Chromium failed, or did not finish in time."""


class ChromiumMissing(ChromiumError):
    """No chromium binary to run."""


def chromium_path():
    """The chromium on PATH."""
    path = shutil.which("chromium")
    if path is None:
        raise ChromiumMissing(
            "chromium not found on PATH (Debian: apt-get install chromium)")
    return path


def _kill_group(proc, wait=5.0):
    """SIGKILL the process group 'proc' leads (its id is proc's pid), reap
    proc, and wait a little for the rest of the group to go."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    deadline = time.monotonic() + wait
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        pass
    # The helpers, reparented once the browser is gone, are reaped by
    # whoever adopted them; a zombie still counts, so this is bounded.
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)


def _tail(data, limit=2000):
    text = data.decode("utf-8", "replace") if data else ""
    return text[-limit:]


def dump_dom(url, timeout=30):
    """The DOM Chromium builds from 'url', as the text it dumps."""
    exe = chromium_path()
    profile = tempfile.mkdtemp(prefix="omni-chromium-")
    proc = None
    try:
        argv = [exe, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run",
                "--user-data-dir=" + profile, "--dump-dom", url]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                _, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                err = b""
            raise ChromiumError("chromium --dump-dom %s: no answer in %ss%s"
                                % (url, timeout,
                                   ("; stderr: " + _tail(err)) if err
                                   else "")) from None
        if proc.returncode != 0:
            raise ChromiumError("chromium --dump-dom %s exited %d; stderr: %s"
                                % (url, proc.returncode, _tail(err)))
        return out.decode("utf-8", "replace")
    finally:
        if proc is not None:
            # Helpers (crashpad, zygotes) may outlive the browser; the
            # group is ours alone, its id the browser's pid.
            _kill_group(proc)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        shutil.rmtree(profile, ignore_errors=True)


def main(argv):
    if len(argv) != 2:
        print("usage: chromium_dom.py URL", file=sys.stderr)
        return 2
    sys.stdout.write(dump_dom(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
