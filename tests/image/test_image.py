#!/usr/bin/env python3
"""test_image.py -- the production image, built and run for real.

  python3 tests/image/test_image.py [-k PATTERN]      (make test-image)

No Docker engine runs here and podman cannot start containers (its OCI
runtimes fail to set rlimits), so the image is built and run with buildah
alone, with chroot isolation (no OCI runtime; the host's network
namespace, so loopback is shared):

  1. scripts/image-base.sh makes the Dockerfile's base
     (docker.io/library/debian:bookworm-slim) with debootstrap when it is
     missing;
  2. `buildah bud --isolation chroot --layers --format docker` builds the
     Dockerfile with VERSION and REVISION arguments (tag
     localhost/omni-test:image-test; the layers stay cached for the next
     run);
  3. the pool starts from the image's root filesystem with
     `buildah run --isolation chroot` as the image's user, in the
     production profile, its socket on a host directory mounted at
     /run/omni, its configuration in an --env-file there, Daytona played
     by tests/fakes/fake_daytona.py on loopback; the real nginx config
     (scripts/render-front.py --run-dir) runs on the host in front of it.
     Checked: GET / and /ready, a sandbox create with a JWT signed here
     (and refused without one), the uid of the master and of every
     worker, the image's own HEALTHCHECK command run inside the container,
     the labels and the configuration the image declares;
  4. scripts/deploy.sh builds three revisions (only the version layer
     differs), deploys, prunes and rolls back, in a repository and a state
     directory of its own.

Every process started here is stopped by its pid: the pool's master (found
in its own "start" log line, checked to be a descendant of the
`buildah run` started here), then what is left of the tree recorded at
start.  Working containers are removed; images are kept as the build
cache.  Needs root, buildah and debootstrap: otherwise every test is
skipped.  Prints one line per test and closes with "image: N passed, M
failed".  Python 3 standard library only.

Environment: OMNI_IMAGE_CONTEXT (build context, default the repository),
OMNI_TEST_KEEP=1 keeps run directories.
"""

import argparse
import atexit
import base64
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
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import harness  # noqa: E402

CONTEXT = os.path.abspath(os.environ.get("OMNI_IMAGE_CONTEXT") or REPO)
BASE = "docker.io/library/debian:bookworm-slim"
IMAGE = "localhost/omni-test:image-test"
DEPLOY_REPO = "localhost/omni-deploy-test"
FAKE = os.path.join(REPO, "tests", "fakes", "fake_daytona.py")
DEPLOY = os.path.join(REPO, "scripts", "deploy.sh")
IMAGE_BASE = os.path.join(REPO, "scripts", "image-base.sh")
DAYTONA_KEY = "image-test-daytona-key"
JWT_SECRET = "image-test-jwt-secret-0123456789abcdef"
VERSION = "0.0.0-imagetest"
TIMEOUT = 30.0
BUILD_TIMEOUT = 1500  # a cold build: apt in two stages and the compile

MEASURED = {}  # printed at the end for the lead


def missing_tools():
    if os.geteuid() != 0:
        return "not root (buildah needs root here)"
    lack = [t for t in ("buildah", "debootstrap", "nginx")
            if shutil.which(t) is None]
    return "%s not installed" % "/".join(lack) if lack else None


SKIP = missing_tools()


def run(argv, timeout=120, check=True, env=None, input=None):
    """Run a command, capture its output; raise with it on failure."""
    done = subprocess.run(argv, capture_output=True, text=True,
                          errors="replace", timeout=timeout, env=env,
                          input=input, stdin=None if input is not None
                          else subprocess.DEVNULL)
    if check and done.returncode != 0:
        raise AssertionError("%s: exit %d\n--- stdout\n%s\n--- stderr\n%s"
                             % (" ".join(argv), done.returncode,
                                done.stdout[-4000:], done.stderr[-4000:]))
    return done


def image_id(ref):
    done = run(["buildah", "inspect", "--type", "image", "--format",
                "{{.FromImageID}}", ref], check=False)
    return done.stdout.strip().replace("sha256:", "") if \
        done.returncode == 0 else None


def inspect(ref):
    return json.loads(run(["buildah", "inspect", "--type", "image",
                           ref]).stdout)


def git_revision():
    done = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(sub, secret=JWT_SECRET):
    """A compact HS256 JWT for 'sub', valid for an hour."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps({"sub": sub,
                              "exp": int(time.time()) + 3600}).encode())
    mac = hmac.new(secret.encode(), ("%s.%s" % (head, body)).encode(),
                   hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64url(mac))


def proc_status(pid):
    """{field: value} of /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def parent_of(pid):
    try:
        return int(proc_status(pid)["PPid"])
    except (OSError, KeyError, ValueError):
        return None


def is_descendant(pid, ancestor):
    seen = 0
    while pid and pid > 1 and seen < 64:
        if pid == ancestor:
            return True
        pid = parent_of(pid)
        seen += 1
    return False


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        for kid in harness.children_of(todo.pop()):
            out.append(kid)
            todo.append(kid)
    return out


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return proc_status(pid).get("State", "")[:1] != "Z"
    except OSError:
        return False


# --------------------------------------------------------- containers ---

_containers = []  # working containers to remove at exit


def buildah_from(image):
    name = "omni-image-test-%d-%d" % (os.getpid(), len(_containers))
    run(["buildah", "rm", name], check=False)
    run(["buildah", "from", "--pull=never", "--name", name, image])
    _containers.append(name)
    return name


def buildah_rm(name):
    run(["buildah", "rm", name], check=False)
    if name in _containers:
        _containers.remove(name)


def _remove_containers():
    for name in list(_containers):
        buildah_rm(name)


class ContainerPool:
    """The pool started by `buildah run` in a working container.  Stopped
    through its master (SIGTERM drains it, and buildah run then exits);
    never by signalling buildah run, which kills the master outright and
    leaves the workers behind."""

    def __init__(self, container, sock_dir, log_dir, workers, threads):
        self.container = container
        self.sock_dir = sock_dir
        self.argv = ["buildah", "run", "--isolation", "chroot",
                     "-v", "%s:/run/omni" % sock_dir, container, "--",
                     "/usr/local/bin/omni-fcgi",
                     "--listen", "unix:/run/omni/omni.sock",
                     "--workers", str(workers), "--threads", str(threads),
                     "--env-file", "/run/omni/omni.env"]
        self.proc = harness.spawn(self.argv, "omni", log_dir,
                                  env={"PATH": os.environ.get(
                                      "PATH", "/usr/sbin:/usr/bin:/sbin:/bin")})
        self.pid = self.proc.pid
        self.master = None
        self.tree = set()  # every pid seen under buildah run

    def find_master(self, timeout=TIMEOUT):
        def found():
            if not self.proc.alive():
                raise harness.StopWaiting("buildah run exited %s:\n%s"
                                          % (self.proc.returncode,
                                             self.proc.log()[-3000:]))
            for line in self.proc.events():
                if line.get("event") == "start" and line.get("pid"):
                    return int(line["pid"])
            return None
        pid = harness.wait_until(found, timeout, what="the pool's start line")
        if not is_descendant(pid, self.pid):
            raise AssertionError("the pool's master %d is not a descendant "
                                 "of buildah run (%d)" % (pid, self.pid))
        self.master = pid
        self.remember()
        return pid

    def remember(self):
        self.tree.update(descendants(self.pid))

    def workers(self):
        return harness.children_of(self.master) if self.master else set()

    def stop(self, timeout=40):
        """SIGTERM to the master, wait for buildah run to end; then kill
        by pid whatever of the recorded tree is left.  Returns buildah
        run's exit code."""
        if self.proc.alive():
            self.remember()
        if self.master and pid_alive(self.master):
            os.kill(self.master, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        leftovers = [p for p in self.tree if pid_alive(p)]
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        rc = self.proc.stop(signal.SIGTERM, timeout=10)
        return rc, leftovers


class ImageStack(harness.Stack):
    """harness.Stack with the pool from the image: the same render of
    nginx/omni.conf and the same nginx on the host, in front of the socket
    that the container's pool makes in a mounted host directory."""

    def __init__(self, container, sock_dir, port, workers=2, threads=16):
        super().__init__("nginx", workers=workers, threads=threads,
                         port=port)
        self.container = container
        self.sock_dir = sock_dir
        self.socket = os.path.join(sock_dir, "omni.sock")
        self.cpool = None

    def _start_pool(self, timeout):
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        self.cpool = ContainerPool(self.container, self.sock_dir,
                                   self.log_dir, self.workers, self.threads)
        self.pool = self.cpool.proc
        self.cpool.find_master(timeout)
        harness.wait_until(lambda: os.path.exists(self.socket), timeout,
                           what="the pool's socket")

    def stop(self):
        if self.front_proc is not None:
            self.front_proc.stop(signal.SIGTERM, timeout=10)
        if self.cpool is not None:
            self.pool_result = self.cpool.stop()
            # Read before super().stop() removes the run directory.
            self.pool_log = self.cpool.proc.log()
            self.pool_events_final = self.cpool.proc.events()
        super().stop()


_stacks = []


def _stop_stacks():
    for s in list(_stacks):
        try:
            s.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


# Registered after harness's own atexit, so it runs first: the pool goes
# down through its master before harness would signal buildah run.
atexit.register(_remove_containers)
atexit.register(_stop_stacks)


def _on_sigterm(signum, frame):
    """Stop the pools through their masters before anything else; exit
    then runs harness's own cleanup of the processes it started."""
    _stop_stacks()
    _remove_containers()
    sys.exit(128 + signum)


if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None,
                                        getattr(harness, "_on_sigterm",
                                                None)):
    signal.signal(signal.SIGTERM, _on_sigterm)


class FakeDaytona:
    def __init__(self, log_dir):
        self.proc = harness.spawn(
            [sys.executable, FAKE, "--port", "0",
             "--key", DAYTONA_KEY + ":primary", "--create-delay", "0.2",
             "--max-lifetime", "600"], "fake-daytona", log_dir)

        def port():
            for line in self.proc.log().splitlines():
                if line.startswith("PORT="):
                    return int(line[5:])
            if not self.proc.alive():
                raise harness.StopWaiting("fake exited: " + self.proc.log())
            return None
        self.port = harness.wait_until(port, 15, what="fake daytona port")
        self.api_url = "http://127.0.0.1:%d/api" % self.port

    def stop(self):
        self.proc.stop()


# ------------------------------------------------------------- builds ---

def ensure_base():
    t0 = time.monotonic()
    had = image_id(BASE) is not None
    run(["sh", IMAGE_BASE], timeout=900)
    MEASURED.setdefault("base", "%s (%.1fs)" % (
        "present" if had else "made by debootstrap",
        time.monotonic() - t0))


def build(tag, version, revision):
    """buildah bud as docs/deploy.md gives it; returns the image id."""
    old = image_id(tag)
    t0 = time.monotonic()
    run(["buildah", "bud", "--isolation", "chroot", "--layers",
         "--force-rm", "--format", "docker", "--pull=never",
         "--build-arg", "VERSION=" + version,
         "--build-arg", "REVISION=" + revision,
         "--build-arg", "CREATED=" + time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                   time.gmtime()),
         "-f", os.path.join(CONTEXT, "Dockerfile"), "-t", tag, CONTEXT],
        timeout=BUILD_TIMEOUT)
    took = time.monotonic() - t0
    new = image_id(tag)
    if old and old != new:  # the tag moved: drop the image it left
        run(["buildah", "rmi", old], check=False)
    return new, took


def rootfs_size(container):
    """(kilobytes, path) of a working container's mounted filesystem."""
    mnt = run(["buildah", "mount", container]).stdout.strip()
    try:
        kb = int(run(["du", "-skx", mnt]).stdout.split()[0])
        return kb, mnt
    finally:
        run(["buildah", "umount", container], check=False)


def passwd_entry(container, user):
    mnt = run(["buildah", "mount", container]).stdout.strip()
    try:
        with open(os.path.join(mnt, "etc", "passwd")) as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if fields[0] == user:
                    return int(fields[2]), int(fields[3]), fields[5]
    finally:
        run(["buildah", "umount", container], check=False)
    raise AssertionError("no user %s in the image" % user)


# -------------------------------------------------------------- tests ---

@unittest.skipIf(SKIP, SKIP or "")
class ImageTests(unittest.TestCase):
    """The Dockerfile's image: what it declares, what it holds, and the
    pool running from it behind the real nginx config."""

    @classmethod
    def setUpClass(cls):
        ensure_base()
        cls.revision = git_revision()
        cls.image_id, took = build(IMAGE, VERSION, cls.revision)
        MEASURED["build"] = "%.1fs" % took
        cls.info = inspect(IMAGE)
        cls.config = cls.info["Docker"]["config"]
        size = run(["buildah", "images", "--format", "{{.Size}}",
                    IMAGE]).stdout.split("\n")[0].strip()
        MEASURED["image size (buildah images)"] = size
        cls.container = buildah_from(IMAGE)
        kb, _ = rootfs_size(cls.container)
        MEASURED["unpacked rootfs (du -skx)"] = "%.1f MiB" % (kb / 1024.0)
        cls.uid, cls.gid, cls.home = passwd_entry(cls.container, "omni")

    @classmethod
    def tearDownClass(cls):
        buildah_rm(cls.container)

    def test_labels_and_declared_configuration(self):
        labels = self.config.get("Labels") or {}
        self.assertEqual(labels.get("org.opencontainers.image.version"),
                         VERSION)
        self.assertEqual(labels.get("org.opencontainers.image.revision"),
                         self.revision)
        for name in ("title", "created", "base.name"):
            self.assertTrue(labels.get("org.opencontainers.image." + name),
                            "label %s: %r" % (name, labels))
        self.assertEqual(self.config.get("User"), "10001:10001")
        self.assertEqual(self.config.get("Entrypoint"),
                         ["/usr/local/bin/omni-fcgi"])
        self.assertEqual(self.config.get("Cmd"), ["--listen", "0.0.0.0:9000"])
        self.assertIn("9000/tcp", self.config.get("ExposedPorts") or {})
        self.assertEqual(self.config.get("StopSignal"), "SIGTERM")
        health = self.config.get("Healthcheck") or {}
        self.assertEqual((health.get("Test") or [None])[0], "CMD-SHELL",
                         health)
        self.assertIn("cgi-fcgi", health["Test"][1])
        env = dict(e.split("=", 1) for e in self.config.get("Env") or [])
        self.assertEqual(env.get("OMNI_ENV"), "production")
        # The malloc tuning make run and the tests use (deploy/malloc.env).
        self.assertEqual(env.get("GLIBC_TUNABLES"),
                         harness.malloc_env()["GLIBC_TUNABLES"])
        secret_like = [k for k in env if re.search(
            r"KEY|SECRET|TOKEN|PASSWORD", k)]
        self.assertEqual(secret_like, [], "the image bakes in %s"
                         % secret_like)
        self.assertEqual((self.uid, self.gid), (10001, 10001))

    def test_final_stage_holds_the_runtime_only(self):
        mnt = run(["buildah", "mount", self.container]).stdout.strip()
        try:
            def there(path):
                return os.path.lexists(os.path.join(mnt, path.lstrip("/")))
            for path in ("/usr/local/bin/omni-fcgi", "/usr/bin/cgi-fcgi",
                         "/usr/bin/bwrap", "/etc/ssl/certs/ca-certificates.crt",
                         "/etc/omni-build-info"):
                self.assertTrue(there(path), path + " missing")
            for path in ("/usr/bin/gcc", "/usr/bin/cc", "/usr/bin/make",
                         "/usr/include/fcgiapp.h", "/usr/include/curl",
                         "/src", "/usr/local/bin/omni-executor"):
                self.assertFalse(there(path), path + " is in the image")
            lists = os.path.join(mnt, "var/lib/apt/lists")
            self.assertEqual([f for f in os.listdir(lists)
                              if f not in ("lock", "partial", "auxfiles")],
                             [], "apt lists left in the image")
            with open(os.path.join(mnt, "etc/omni-build-info")) as f:
                info = f.read()
            self.assertIn("revision=%s\n" % self.revision, info)
            # The binary reports what the labels say (--version).
            self.assertIn("omni-fcgi %s (%s)" % (VERSION, self.revision),
                          info)
        finally:
            run(["buildah", "umount", self.container], check=False)
        # Every library the binary links resolves inside the image.
        done = run(["buildah", "run", "--isolation", "chroot",
                    self.container, "--", "ldd", "/usr/local/bin/omni-fcgi"])
        self.assertNotIn("not found", done.stdout)
        for lib in ("libfcgi", "libcurl", "libjson-c", "libcrypto"):
            self.assertIn(lib, done.stdout)

    def test_pool_from_the_image_behind_nginx(self):
        work = tempfile.mkdtemp(prefix="omni-image-")
        self.addCleanup(lambda: None if os.environ.get("OMNI_TEST_KEEP")
                        else shutil.rmtree(work, ignore_errors=True))
        log_dir = os.path.join(work, "logs")
        os.makedirs(log_dir)
        fake = FakeDaytona(log_dir)
        self.addCleanup(fake.stop)

        # The container's /run/omni: the socket and the configuration,
        # owned by the image's user, the env file 0600 as docs/deploy.md
        # asks.
        sock_dir = os.path.join(work, "run-omni")
        os.makedirs(sock_dir)
        os.chown(sock_dir, self.uid, self.gid)
        os.chmod(sock_dir, 0o750)
        port = harness.free_port()
        env_file = os.path.join(sock_dir, "omni.env")
        with open(env_file, "w") as f:
            f.write("\n".join([
                "OMNI_ENV=production",
                "OMNI_SHUTDOWN_TIMEOUT=10",
                "JWT_SECRET=" + JWT_SECRET,
                "SANDBOX_PROVIDER=daytona",
                "DAYTONA_API_URL=" + fake.api_url,
                "DAYTONA_API_KEY=" + DAYTONA_KEY,
                "DAYTONA_SNAPSHOT=omni-image-test",
                "INNGEST_SIGNING_KEY=signkey-prod-" + "ab" * 32,
                "INNGEST_EVENT_KEY=" + "cd" * 16,
                "INNGEST_SERVE_ORIGIN=http://127.0.0.1:%d" % port,
            ]) + "\n")
        os.chown(env_file, self.uid, self.gid)
        os.chmod(env_file, 0o600)

        container = buildah_from(IMAGE)
        self.addCleanup(buildah_rm, container)
        stack = ImageStack(container, sock_dir, port)
        _stacks.append(stack)
        self.addCleanup(_stacks.remove, stack)
        t0 = time.monotonic()
        stack.start(timeout=60)
        MEASURED["pool start from the image, behind nginx"] = \
            "%.1fs" % (time.monotonic() - t0)
        try:
            self._check_running(stack, container, sock_dir, fake)
        except BaseException:
            print(stack.dump_logs(), file=sys.stderr)
            stack.stop()
            raise
        stack.stop()
        rc, leftovers = stack.pool_result
        self.assertEqual(leftovers, [], "processes left after the drain")
        self.assertEqual(rc, 0, "buildah run (the pool) exited %s:\n%s"
                         % (rc, stack.pool_log[-3000:]))
        self.assertTrue(any(e.get("event") == "stop"
                            for e in stack.pool_events_final),
                        stack.pool_log[-3000:])

    def _check_running(self, stack, container, sock_dir, fake):
        cpool = stack.cpool
        # The process tree: master and workers all the image's user.
        workers = harness.wait_until(
            lambda: (lambda w: w if len(w) == 2 else None)(cpool.workers()),
            TIMEOUT, what="2 workers")
        cpool.remember()
        for pid in [cpool.master] + sorted(workers):
            st = proc_status(pid)
            uids = st["Uid"].split()
            gids = st["Gid"].split()
            self.assertEqual(set(uids), {str(self.uid)},
                             "pid %d runs as uid %s" % (pid, uids))
            self.assertEqual(set(gids), {str(self.gid)},
                             "pid %d runs as gid %s" % (pid, gids))
            self.assertNotEqual(self.uid, 0)
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv0 = f.read().split(b"\0")[0]
            self.assertEqual(argv0, b"/usr/local/bin/omni-fcgi")

        r = stack.get("/", timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"status": "ok"})

        r = stack.get("/ready", timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r)
        ready = r.json()
        self.assertEqual(ready["status"], "ready", ready)
        self.assertEqual(ready["checks"]["config"].get("detail"),
                         "production", ready)

        user = "image-user-1"
        r = stack.post_json("/api/sandbox/create", {"userId": user},
                            timeout=TIMEOUT)
        self.assertEqual(r.status, 401, r)  # production: a token is needed
        r = stack.post_json("/api/sandbox/create", {"userId": user},
                            headers={"Authorization": "Bearer "
                                     + token(user)}, timeout=TIMEOUT)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["userId"], user)
        self.assertIn(body["status"], ("creating", "ready"), body)
        self.assertTrue(body["sandboxId"])
        made = harness.request(fake.port, "GET", "/__control/sandboxes")
        self.assertIn(body["sandboxId"], made.text)

        # The image's HEALTHCHECK, as the engine would run it: inside the
        # container, as its user, through /bin/sh -c.
        test = self.config["Healthcheck"]["Test"][1]

        def healthcheck(addr):
            return run(["buildah", "run", "--isolation", "chroot",
                        "-v", "%s:/run/omni" % sock_dir,
                        "-e", "HEALTHCHECK_ADDR=" + addr, container, "--",
                        "/bin/sh", "-c", test], check=False, timeout=30)
        t0 = time.monotonic()
        ok = healthcheck("unix:/run/omni/omni.sock")
        MEASURED["healthcheck run"] = "%.1fs" % (time.monotonic() - t0)
        self.assertEqual(ok.returncode, 0, ok)
        bad = healthcheck("unix:/run/omni/no-such.sock")
        self.assertNotEqual(bad.returncode, 0, "the healthcheck passes "
                            "with no pool behind it")
        # Still the same two workers: nothing restarted meanwhile.
        self.assertEqual(cpool.workers(), workers)


def deploy(*args, env_extra=None, check=True):
    env = dict(os.environ, OMNI_IMAGE=DEPLOY_REPO,
               OMNI_DEPLOY_STATE=DeployTests.state_dir,
               OMNI_BUILD_CONTEXT=CONTEXT, OMNI_BUILD_PULL="never")
    env.pop("OMNI_DEPLOY_HOOK", None)
    env.update(env_extra or {})
    return run(["sh", DEPLOY] + list(args), env=env, check=check,
               timeout=BUILD_TIMEOUT)


def repo_tags():
    out = run(["buildah", "images", "--noheading", "--filter",
               "reference=" + DEPLOY_REPO, "--format",
               "{{.Name}}:{{.Tag}}"], check=False).stdout
    return sorted(set(out.split()))


def clear_repo():
    for tag in repo_tags():
        run(["buildah", "rmi", tag], check=False)


@unittest.skipIf(SKIP, SKIP or "")
class DeployTests(unittest.TestCase):
    """scripts/deploy.sh with three builds of different revisions."""

    state_dir = None

    @classmethod
    def setUpClass(cls):
        ensure_base()
        cls.state_dir = tempfile.mkdtemp(prefix="omni-deploy-state-")
        clear_repo()
        cls.builds = []
        t0 = time.monotonic()
        for n in (1, 2, 3):
            revision = ("%d" % n) * 40
            out = deploy("build", "--version", "0.0.%d" % n, "--revision",
                         revision).stdout.strip().splitlines()
            ref = out[-1]
            cls.builds.append((ref, image_id(ref), "0.0.%d" % n, revision))
        MEASURED["deploy.sh build x3"] = "%.1fs" % (time.monotonic() - t0)

    @classmethod
    def tearDownClass(cls):
        clear_repo()
        if cls.state_dir and not os.environ.get("OMNI_TEST_KEEP"):
            shutil.rmtree(cls.state_dir, ignore_errors=True)

    def current(self):
        return image_id(DEPLOY_REPO + ":current")

    def previous(self):
        return image_id(DEPLOY_REPO + ":previous")

    def state(self):
        with open(os.path.join(self.state_dir, "state")) as f:
            return dict(line.rstrip("\n").split("=", 1) for line in f
                        if "=" in line and not line.startswith("#"))

    def test_builds_are_tagged_by_version_and_revision(self):
        ids = [b[1] for b in self.builds]
        self.assertEqual(len(set(ids)), 3, "three revisions, one image")
        for ref, iid, version, revision in self.builds:
            self.assertEqual(ref, "%s:%s-%s" % (DEPLOY_REPO, version,
                                               revision[:12]))
            labels = inspect(ref)["Docker"]["config"]["Labels"]
            self.assertEqual(labels["org.opencontainers.image.version"],
                             version)
            self.assertEqual(labels["org.opencontainers.image.revision"],
                             revision)

    def test_deploy_keeps_two_and_rolls_back_once(self):
        (r1, i1, _, _), (r2, i2, _, _), (r3, i3, v3, rev3) = self.builds
        hook_log = os.path.join(self.state_dir, "hook.log")
        hook = {"OMNI_DEPLOY_HOOK":
                'echo "$OMNI_DEPLOY_IMAGE $OMNI_DEPLOY_ID" >>' + hook_log}

        done = deploy("rollback", check=False)
        self.assertEqual(done.returncode, 3, done)

        deploy("deploy", r1.split(":", 1)[1])  # a bare tag of the repo
        self.assertEqual((self.current(), self.previous()), (i1, None))

        deploy("deploy", r2, env_extra=hook)
        self.assertEqual((self.current(), self.previous()), (i2, i1))
        with open(hook_log) as f:
            self.assertEqual(f.read().split(),
                             [DEPLOY_REPO + ":current", i2])
        st = self.state()
        self.assertEqual((st["current_id"], st["previous_id"]), (i2, i1))
        self.assertEqual(st["current_ref"], r2)

        deploy("deploy", r3)
        self.assertEqual((self.current(), self.previous()), (i3, i2))
        self.assertIsNone(image_id(r1), "the oldest build was not pruned")
        self.assertIsNotNone(image_id(r2))
        status = deploy("status").stdout
        self.assertIn("version=%s revision=%s" % (v3, rev3), status)

        done = deploy("deploy", r3)  # already current: nothing changes
        self.assertIn("already current", done.stdout)

        deploy("rollback")
        self.assertEqual((self.current(), self.previous()), (i2, None))
        self.assertIsNotNone(image_id(r3), "rollback removed its source")

        done = deploy("rollback", check=False)
        self.assertEqual(done.returncode, 3, done)
        self.assertIn("nothing to roll back to", done.stderr)
        self.assertEqual((self.current(), self.previous()), (i2, None))

        # A deploy whose hook fails is undone.
        done = deploy("deploy", r3, env_extra={"OMNI_DEPLOY_HOOK": "exit 7"},
                      check=False)
        self.assertEqual(done.returncode, 4, done)
        self.assertEqual((self.current(), self.previous()), (i2, None))

        deploy("deploy", r3)
        self.assertEqual((self.current(), self.previous()), (i3, i2))
        listing = deploy("list").stdout
        self.assertIn(r3, listing)

    def test_usage_and_errors(self):
        done = deploy("frobnicate", check=False)
        self.assertEqual(done.returncode, 2, done)
        self.assertIn("usage", done.stderr)
        done = deploy("deploy", check=False)
        self.assertEqual(done.returncode, 2, done)
        done = deploy("deploy", "9.9.9-nosuchbuild", check=False)
        self.assertEqual(done.returncode, 1, done)
        self.assertIn("no image", done.stderr)
        done = deploy("deploy", "current", check=False)
        self.assertEqual(done.returncode, 1, done)


# ------------------------------------------------------------- runner ---

# One line per test, as run_all.py prints them, counted the same way.
from run_all import LineResult  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", dest="pattern", help="only tests matching")
    args = ap.parse_args()
    loader = unittest.TestLoader()
    if args.pattern:
        loader.testNamePatterns = ["*%s*" % args.pattern]
    suite = loader.loadTestsFromModule(sys.modules[__name__])
    result = LineResult()
    started = time.monotonic()
    suite.run(result)
    for kind, items in (("FAIL", result.failures), ("ERROR", result.errors)):
        for test, trace in items:
            print("=" * 70)
            print("%s: %s" % (kind, test.id() if hasattr(test, "id")
                              else test))
            print(trace)
    for what, value in MEASURED.items():
        print("image: %s: %s" % (what, value))
    print("image: %.1fs in all" % (time.monotonic() - started))
    failed = len(result.failures) + len(result.errors)
    # The closing line tests/run.py reads, as run_all.py prints it.
    line = "%d passed, %d failed" % (result.passed, failed)
    if result.skipped:
        line += ", %d skipped" % len(result.skipped)
    print(line)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
