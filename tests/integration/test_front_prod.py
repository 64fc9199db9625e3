"""The production front configurations (nginx/omni.conf and caddy/Caddyfile
rendered with --production): what `nginx -t` and `caddy validate` accept,
what the rendered files say, and what they do when they run.

Rendered: TLS 1.2/1.3 only with forward-secret AEAD suites for 1.2, HSTS,
the HTTP->HTTPS redirect, /metrics refused on the public server and served
on a loopback-only listener, client_max_body_size / request_body equal to
OMNI_MAX_BODY, JSON access logs without the query string, forwarded
headers set by the front from the TCP peer, the keepalive sizing rule.

Running: each front, rendered for production with a throwaway self-signed
certificate and loopback ports, in front of a real pool (harness.Stack)
and in front of a FastCGI recorder (a tiny responder in this file that
keeps the parameters the front sends), checked over real TLS.

Only 127.0.0.1 is used; every wait is bounded.
"""

import http.client
import json
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MAX_BODY = 65536
ONE_YEAR = 365 * 24 * 3600


# ------------------------------------------------------------ helpers ---

def make_cert(directory):
    """A self-signed certificate for localhost / 127.0.0.1 (1 day)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60)
    return cert, key


class ProdFront:
    """One production render of a front: its run directory, ports and
    placeholder values; render(), check(), start()."""

    def __init__(self, front, parent, socket_path, cert, key,
                 max_body=MAX_BODY, extra=()):
        self.front = front
        self.dir = tempfile.mkdtemp(prefix="prod-%s-" % front, dir=parent)
        self.logs = os.path.join(self.dir, "logs")
        os.makedirs(self.logs)
        os.makedirs(os.path.join(self.dir, "temp"))
        self.http_port = harness.free_port()
        self.https_port = harness.free_port()
        self.metrics_port = harness.free_port()
        self.conf = os.path.join(self.dir, "nginx.conf" if front == "nginx"
                                 else "Caddyfile")
        self.values = {
            "OMNI_FCGI_SOCKET": socket_path,
            "OMNI_TLS_CERT": cert, "OMNI_TLS_KEY": key,
            "OMNI_LOG_DIR": self.logs,
            "OMNI_MAX_BODY": str(max_body),
            "OMNI_METRICS_PORT": str(self.metrics_port),
            # nginx
            "OMNI_HTTP_LISTEN": "127.0.0.1:%d" % self.http_port,
            "OMNI_HTTPS_LISTEN": "127.0.0.1:%d" % self.https_port,
            "OMNI_NGINX_PID": os.path.join(self.dir, "nginx.pid"),
            "OMNI_NGINX_TEMP": os.path.join(self.dir, "temp"),
            "OMNI_NGINX_WORKERS": "1", "OMNI_FCGI_KEEPALIVE": "4",
            # caddy
            "OMNI_DOMAIN": "localhost", "OMNI_HTTP_PORT": str(self.http_port),
            "OMNI_HTTPS_PORT": str(self.https_port),
            "OMNI_CADDY_ADMIN": "off",
        }
        if os.geteuid() == 0:
            self.values["OMNI_NGINX_USER"] = "root"
        self.extra = list(extra)
        self.proc = None

    def render_argv(self):
        argv = [sys.executable, harness.RENDER, self.front, "--production",
                "--pool-threads", "32", "--out", self.conf]
        for k, v in self.values.items():
            argv += ["--set", "%s=%s" % (k, v)]
        return argv + self.extra

    def render(self):
        done = subprocess.run(self.render_argv(), capture_output=True,
                              text=True, timeout=30)
        if done.returncode != 0:
            raise AssertionError("render-front failed: %s" % done.stderr)
        with open(self.conf, encoding="utf-8") as f:
            return f.read()

    def caddy_env(self):
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": self.dir, "XDG_CONFIG_HOME": self.dir,
                "XDG_DATA_HOME": self.dir}

    def check(self):
        """nginx -t / caddy validate on the rendered file: (rc, output)."""
        if self.front == "nginx":
            argv = ["nginx", "-t", "-p", self.dir, "-c", self.conf, "-e",
                    os.path.join(self.logs, "stderr.log")]
            env = None
        else:
            argv = ["caddy", "validate", "--config", self.conf,
                    "--adapter", "caddyfile"]
            env = self.caddy_env()
        done = subprocess.run(argv, capture_output=True, text=True,
                              timeout=60, env=env, cwd=self.dir)
        return done.returncode, done.stdout + done.stderr

    def start(self):
        self.render()
        if self.front == "nginx":
            argv = ["nginx", "-p", self.dir, "-c", self.conf, "-e",
                    os.path.join(self.logs, "stderr.log"),
                    "-g", "daemon off;"]
            env = None
        else:
            argv = ["caddy", "run", "--config", self.conf,
                    "--adapter", "caddyfile"]
            env = self.caddy_env()
        self.proc = harness.spawn(argv, self.front, self.logs, env=env,
                                  cwd=self.dir)
        harness.wait_until(lambda: self.https("GET", "/", timeout=2), 20,
                           what="%s over HTTPS (%s)" % (self.front,
                                                        self.proc.log()))
        harness.wait_until(lambda: harness.request(
            self.metrics_port, "GET", "/nothing", timeout=2), 10,
            what="%s metrics listener" % self.front)
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.stop()

    def https(self, method, path, headers=None, body=None, timeout=10,
              context=None):
        """One request over TLS (SNI localhost, our certificate trusted):
        harness.Response."""
        ctx = context or ssl.create_default_context(
            cafile=self.values["OMNI_TLS_CERT"])
        conn = http.client.HTTPSConnection("localhost", self.https_port,
                                           timeout=timeout, context=ctx)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return harness.Response(resp.status, resp.reason,
                                    resp.getheaders(), data)
        finally:
            conn.close()

    def access_lines(self, name="omni-access.log"):
        try:
            with open(os.path.join(self.logs, name), encoding="utf-8") as f:
                text = f.read()
        except OSError:
            return "", []
        return text, [json.loads(l) for l in text.splitlines() if l.strip()]


# --- a small nginx config parser, for the content checks ---

def _tokens(text):
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c in "{};":
            yield c, False
            i += 1
        elif c in "'\"":
            j, out = i + 1, []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n:
                    out.append(text[j:j + 2])
                    j += 2
                    continue
                out.append(text[j])
                j += 1
            yield "".join(out), True
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "{};":
                j += 1
            yield text[i:j], False
            i = j


class Directive:
    def __init__(self, name, args, block):
        self.name, self.args, self.block = name, args, block

    def all(self, name):
        return [d for d in self.block or [] if d.name == name]

    def one(self, name):
        found = self.all(name)
        if len(found) != 1:
            raise AssertionError("%d %r in %s %s" % (len(found), name,
                                                     self.name, self.args))
        return found[0]

    def values(self, name):
        return [d.args for d in self.all(name)]

    def location(self, *args):
        for d in self.all("location"):
            if d.args == list(args):
                return d
        return None

    def __repr__(self):
        return "<%s %s>" % (self.name, " ".join(self.args))


def parse_nginx(text):
    it = _tokens(text)

    def block():
        items, cur = [], []
        for tok, quoted in it:
            if not quoted and tok == "{":
                items.append(Directive(cur[0], cur[1:], block()))
                cur = []
            elif not quoted and tok == "}":
                return items
            elif not quoted and tok == ";":
                items.append(Directive(cur[0], cur[1:], None))
                cur = []
            else:
                cur.append(tok)
        return items
    return Directive("main", [], block())


# --- the FastCGI recorder ---

class FcgiRecorder:
    """A FastCGI responder on a unix socket: keeps the parameters of every
    request and answers 200 {"recorded":true}.  Serves FCGI_KEEP_CONN
    connections (nginx) and one-shot ones (Caddy)."""

    def __init__(self, path):
        self.path = path
        self.requests = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.listen(64)
        self.sock.settimeout(0.5)
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    @staticmethod
    def _read(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    @staticmethod
    def _pairs(data):
        out, i = {}, 0

        def length():
            nonlocal i
            if data[i] < 128:
                i += 1
                return data[i - 1]
            i += 4
            return struct.unpack("!I", data[i - 4:i])[0] & 0x7fffffff
        while i < len(data):
            nl = length()
            vl = length()
            name = data[i:i + nl].decode("latin-1")
            i += nl
            out[name] = data[i:i + vl].decode("latin-1")
            i += vl
        return out

    @staticmethod
    def _record(rtype, req_id, content):
        return struct.pack("!BBHHBx", 1, rtype, req_id, len(content),
                           0) + content

    def _serve(self, conn):
        conn.settimeout(30)
        params, keep = b"", False
        try:
            while True:
                head = self._read(conn, 8)
                _, rtype, req_id, clen, plen = struct.unpack("!BBHHBx", head)
                content = self._read(conn, clen + plen)[:clen]
                if rtype == 1:  # BEGIN_REQUEST
                    keep = bool(content[2] & 1)
                    params = b""
                elif rtype == 4:  # PARAMS
                    params += content
                elif rtype in (5, 2) and (clen == 0 or rtype == 2):
                    with self.lock:
                        self.requests.append(self._pairs(params))
                    body = b'{"recorded":true}'
                    out = (b"Status: 200 OK\r\nContent-Type: application/json"
                           b"\r\n\r\n" + body)
                    conn.sendall(self._record(6, req_id, out) +
                                 self._record(6, req_id, b"") +
                                 self._record(3, req_id,
                                              struct.pack("!IB3x", 0, 0)))
                    if not keep:
                        return
        except (EOFError, OSError):
            return
        finally:
            conn.close()

    def find(self, request_id):
        with self.lock:
            return [p for p in self.requests
                    if p.get("HTTP_X_REQUEST_ID") == request_id]

    def close(self):
        self.stopping = True
        try:
            self.sock.close()
        finally:
            if os.path.exists(self.path):
                os.unlink(self.path)


def listening_addresses(port):
    """Local addresses of the TCP sockets listening on 'port'."""
    out = set()
    for name, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            with open(name) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            addr, hexport = fields[1].split(":")
            if int(hexport, 16) != port or fields[3] != "0A":
                continue
            raw = bytes.fromhex(addr)
            if v6:
                # /proc prints the address as four host-order words.
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                out.add(socket.inet_ntop(socket.AF_INET6, raw))
            else:
                out.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
    return out


def hsts_ok(tc, value):
    tc.assertTrue(value, "no Strict-Transport-Security")
    parts = [p.strip() for p in value.split(";")]
    age = [p for p in parts if p.lower().startswith("max-age=")]
    tc.assertEqual(len(age), 1, value)
    tc.assertGreaterEqual(int(age[0].split("=", 1)[1]), ONE_YEAR, value)
    tc.assertIn("includesubdomains", [p.lower() for p in parts], value)


def need(*tools):
    for tool in tools:
        if shutil.which(tool) is None:
            raise unittest.SkipTest("%s not installed" % tool)


# ------------------------------------------------- the rendered files ---

class RenderedConfigs(unittest.TestCase):
    """`nginx -t` and `caddy validate` accept the production renders, and
    the renders say what the issue asks."""

    @classmethod
    def setUpClass(cls):
        need("openssl", "nginx", "caddy")
        cls.dir = tempfile.mkdtemp(prefix="omni-prodcfg-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.cert, cls.key = make_cert(cls.dir)
        cls.sock = os.path.join(cls.dir, "omni.sock")

    def front(self, front, **kw):
        return ProdFront(front, self.dir, self.sock, self.cert, self.key,
                         **kw)

    def nginx(self, **kw):
        f = self.front("nginx", **kw)
        conf = parse_nginx(f.render())
        return f, conf, conf.one("http")

    @staticmethod
    def servers(f, http):
        """{'public', 'redirect', 'metrics'} -> server directive, told
        apart by the listen addresses the test gave."""
        names = {"127.0.0.1:%d" % f.https_port: "public",
                 "127.0.0.1:%d" % f.http_port: "redirect",
                 "127.0.0.1:%d" % f.metrics_port: "metrics"}
        out = {}
        for s in http.all("server"):
            (listen,) = s.values("listen")
            out[names[listen[0]]] = s
        assert sorted(out) == ["metrics", "public", "redirect"], out
        return out

    # -- the checkers accept them --

    def test_nginx_t_accepts_the_production_render(self):
        f = self.front("nginx")
        f.render()
        rc, out = f.check()
        self.assertEqual(rc, 0, out)
        self.assertIn("syntax is ok", out)

    def test_caddy_validate_accepts_the_production_render(self):
        f = self.front("caddy")
        f.render()
        rc, out = f.check()
        self.assertEqual(rc, 0, out)
        self.assertIn("Valid configuration", out)

    def test_checkers_refuse_a_broken_render(self):
        # The two checks above prove something: a broken file fails them.
        for front in ("nginx", "caddy"):
            f = self.front(front)
            text = f.render()
            with open(f.conf, "w") as fh:
                fh.write(text.replace("fastcgi_pass omni;",
                                      "fastcgi_pass omni")
                         if front == "nginx" else
                         text.replace("request_body {", "request_body {\n"
                                      "\t\tno_such_option 1"))
            rc, out = f.check()
            self.assertNotEqual(rc, 0, (front, out))

    # -- nginx --

    def test_nginx_tls_hsts_and_redirect(self):
        f, _, http = self.nginx()
        self.assertEqual(http.values("ssl_protocols"),
                         [["TLSv1.2", "TLSv1.3"]])
        for suite in http.one("ssl_ciphers").args[0].split(":"):
            self.assertTrue(suite.startswith("ECDHE-"), suite)
            self.assertTrue("GCM" in suite or "CHACHA20" in suite, suite)
        self.assertEqual(http.values("ssl_session_tickets"), [["off"]])
        servers = self.servers(f, http)
        public = servers["public"]
        self.assertIn(["Strict-Transport-Security", "$omni_hsts", "always"],
                      public.values("add_header"))
        # Every error location nginx answers from carries HSTS too (an
        # add_header in a location hides the server's).
        for loc in public.all("location"):
            if loc.args[-1].startswith("/__omni_error/"):
                self.assertIn(["Strict-Transport-Security", "$omni_hsts",
                               "always"], loc.values("add_header"), loc)
        hsts_map = [m for m in http.all("map")
                    if m.args == ["$https", "$omni_hsts"]]
        self.assertEqual(len(hsts_map), 1)
        on = [d for d in hsts_map[0].block if d.name == "on"][0].args[0]
        hsts_ok(self, on)
        # HTTP answers with a permanent redirect to HTTPS, query kept.
        redirect = servers["redirect"].location("/")
        self.assertEqual(redirect.values("return"),
                         [["308", "https://$host$request_uri"]])

    def test_nginx_metrics_refused_publicly_and_served_on_loopback(self):
        f, _, http = self.nginx()
        servers = self.servers(f, http)
        blocked = servers["public"].location("^~", "/metrics")
        self.assertIsNotNone(blocked, "no /metrics location on the public "
                             "server")
        self.assertEqual(blocked.values("return"), [["404"]])
        self.assertEqual(blocked.all("fastcgi_pass"), [])
        metrics = servers["metrics"]
        self.assertEqual(metrics.values("listen"),
                         [["127.0.0.1:%d" % f.metrics_port]])
        passed = sorted(loc.args[-1] for loc in metrics.all("location")
                        if loc.all("fastcgi_pass"))
        self.assertEqual(passed, ["/", "/metrics", "/ready"])
        for loc in metrics.all("location"):
            if loc.all("fastcgi_pass"):
                self.assertEqual(loc.args[0], "=", loc)
        self.assertEqual(metrics.location("/").values("return")[0][0], "404")

    def test_nginx_body_limit_equals_omni_max_body(self):
        for given, size in (("512k", 524288), ("3m", 3145728)):
            f, _, http = self.nginx(max_body=given)
            self.assertEqual(http.values("client_max_body_size"),
                             [[str(size)]], given)
            err = self.servers(f, http)["public"].location(
                "=", "/__omni_error/413")
            self.assertIn('"limit":%d' % size, err.values("return")[0][1])

    def test_nginx_forwarded_headers_come_from_the_peer(self):
        _, _, http = self.nginx()
        params = {a[0]: a[1:] for a in http.values("fastcgi_param")}
        self.assertEqual(params["REMOTE_ADDR"], ["$remote_addr"])
        self.assertEqual(params["HTTP_X_FORWARDED_FOR"], ["$remote_addr"])
        self.assertEqual(params["HTTP_X_FORWARDED_PROTO"], ["$scheme"])
        self.assertEqual(params["HTTP_X_FORWARDED_HOST"], ["$host"])
        self.assertEqual(params["HTTP_X_REAL_IP"], ["$remote_addr"])
        self.assertEqual(params["HTTP_FORWARDED"], [""])
        self.assertEqual(params["HTTP_PROXY"], [""])
        self.assertEqual(params["HTTP_X_REQUEST_ID"], ["$omni_request_id"])
        self.assertEqual(http.values("underscores_in_headers"), [["off"]])
        # Nothing below overrides them with parameters of its own.
        for server in http.all("server"):
            for loc in server.all("location"):
                self.assertEqual(loc.all("fastcgi_param"), [], loc)

    def test_nginx_json_access_log_without_query(self):
        f, _, http = self.nginx()
        fmt = [d for d in http.all("log_format") if d.args[0] == "omni_json"]
        self.assertEqual(len(fmt), 1)
        self.assertEqual(fmt[0].args[1], "escape=json")
        line = "".join(fmt[0].args[2:])
        for var in ("$request_uri", "$args", "$query_string", "$uri",
                    "$http_authorization", "$http_cookie", "$request_body"):
            self.assertIsNone(re.search(re.escape(var) + r"\b", line), var)
        # With every variable replaced, the format is one JSON object.
        doc = json.loads(re.sub(r"(?<!\")\$[a-z_0-9]+", "0",
                                re.sub(r'"\$[a-z_0-9]+"', '"x"', line)))
        for key in ("ts", "request_id", "remote_addr", "method", "path",
                    "status", "bytes", "request_time",
                    "upstream_response_time", "user_agent"):
            self.assertIn(key, doc)
        self.assertIn('"request_id":"$omni_request_id"', line)
        self.assertIn('"path":"$omni_log_path"', line)
        path_map = [m for m in http.all("map")
                    if m.args == ["$request_uri", "$omni_log_path"]]
        self.assertEqual(len(path_map), 1)
        access = [a for a in http.values("access_log")]
        self.assertEqual(len(access), 1)
        self.assertEqual(access[0][1], "omni_json")
        metrics = self.servers(f, http)["metrics"]
        self.assertEqual(metrics.values("access_log")[0][1], "omni_json")

    def test_nginx_timeouts_cover_the_api(self):
        _, _, http = self.nginx()
        # The longest API wait: a sandbox command's 60 s default plus
        # 15 s, or a create's 60 s plus 10 s of back-off (docs/deploy.md).
        read = http.one("fastcgi_read_timeout").args[0]
        self.assertTrue(read.endswith("s"), read)
        self.assertGreater(int(read[:-1]), 75)
        for name in ("fastcgi_connect_timeout", "fastcgi_send_timeout",
                     "client_header_timeout", "client_body_timeout",
                     "send_timeout"):
            self.assertEqual(len(http.values(name)), 1, name)

    def test_nginx_keepalive_follows_the_sizing_rule(self):
        f, conf, http = self.nginx()
        workers = int(conf.one("worker_processes").args[0])
        keep = int(http.one("upstream").one("keepalive").args[0])
        self.assertLess(workers * keep, 32)
        broken = self.front("nginx", extra=["--set", "OMNI_FCGI_KEEPALIVE=40"])
        done = subprocess.run(broken.render_argv(), capture_output=True,
                              text=True, timeout=30)
        self.assertEqual(done.returncode, 2, done)
        self.assertIn("sizing rule", done.stderr)

    def test_test_mode_passes_metrics_through(self):
        # --run-dir (tests, `make run`): no TLS, no metrics listener, and
        # /metrics goes to Omni through the main server.
        run = tempfile.mkdtemp(prefix="run-", dir=self.dir)
        for front in ("nginx", "caddy"):
            out = os.path.join(run, front + ".conf")
            subprocess.run([sys.executable, harness.RENDER, front,
                            "--run-dir", run, "--port", "18099",
                            "--pool-threads", "32", "--out", out],
                           check=True, capture_output=True, timeout=30)
            with open(out) as fh:
                text = fh.read()
            code = "\n".join(l for l in text.splitlines()
                             if not l.lstrip().startswith("#"))
            self.assertNotIn("metrics", code, front)
            # HSTS only on TLS connections (Caddy's error handler checks
            # the protocol; nginx's map gives "" on plain HTTP).
            for l in code.splitlines():
                if "Strict-Transport-Security" in l:
                    self.assertTrue("@errors_https" in l
                                    or "$omni_hsts" in l, l)
            if front == "caddy":
                self.assertIn("bind 127.0.0.1", code)
                self.assertNotIn("https://", code.replace(
                    "redir https://", ""))
            else:
                http = parse_nginx(text).one("http")
                self.assertEqual(
                    [s.values("listen") for s in http.all("server")],
                    [[["127.0.0.1:18099"]]])
                self.assertEqual(http.all("ssl_protocols"), [])

    # -- Caddy --

    def caddy(self, **kw):
        f = self.front("caddy", **kw)
        text = f.render()
        done = subprocess.run(["caddy", "adapt", "--config", f.conf,
                               "--adapter", "caddyfile"],
                              capture_output=True, text=True, timeout=60,
                              env=f.caddy_env())
        self.assertEqual(done.returncode, 0, done.stderr)
        adapted = json.loads(done.stdout)
        servers = adapted["apps"]["http"]["servers"]
        by_listen = {tuple(s["listen"]): s for s in servers.values()}
        return f, text, adapted, by_listen

    def test_caddy_tls_hsts_redirect_and_metrics(self):
        f, text, adapted, by_listen = self.caddy()
        public = by_listen[(":%d" % f.https_port,)]
        policy = public["tls_connection_policies"][0]
        self.assertEqual((policy["protocol_min"], policy["protocol_max"]),
                         ("tls1.2", "tls1.3"))
        for suite in policy["cipher_suites"]:
            self.assertTrue(suite.startswith("TLS_ECDHE_"), suite)
            self.assertTrue("GCM" in suite or "CHACHA20" in suite, suite)
        dump = json.dumps(public)
        self.assertIn('"Strict-Transport-Security": ["max-age=63072000; '
                      'includeSubDomains"]', dump)
        # /metrics* answered with an error 404 before any proxying.
        self.assertIn('{"path": ["/metrics*"]}', dump)
        self.assertIn('"handler": "error", "status_code": 404', dump)
        redirect = json.dumps(by_listen[(":%d" % f.http_port,)])
        self.assertIn('"status_code": 308', redirect)
        self.assertIn("https://{http.request.host}{http.request.uri}",
                      redirect)
        self.assertNotIn("reverse_proxy", redirect)
        # Automatic HTTPS opens no port of its own (no :80 in tests).
        self.assertEqual(sorted(by_listen), sorted([
            (":%d" % f.http_port,), (":%d" % f.https_port,),
            ("127.0.0.1:%d" % f.metrics_port,)]))
        metrics = by_listen[("127.0.0.1:%d" % f.metrics_port,)]
        mdump = json.dumps(metrics)
        self.assertIn('"path": ["/metrics", "/", "/ready"]', mdump)
        self.assertNotIn("/metrics*", mdump)

    def test_caddy_body_limit_equals_omni_max_body(self):
        for given, size in (("512k", 524288), ("3m", 3145728)):
            f, text, adapted, _ = self.caddy(max_body=given)
            dump = json.dumps(adapted)
            self.assertIn('"max_size": %d' % size, dump, given)
            self.assertIn('"max_buffer_size": %d' % size, dump, given)
            self.assertIn('\\"limit\\":%d' % size, dump, given)
            # A Content-Length over the limit is refused before reading.
            self.assertIn("{http.request.header.Content-Length}) > %d\n"
                          "\terror @body_too_large 413" % size, text, given)

    def test_caddy_forwarded_headers_and_request_id(self):
        f, text, adapted, _ = self.caddy()
        dump = json.dumps(adapted)
        self.assertIn('"X-Forwarded-For": ["{http.request.remote.host}"]',
                      dump)
        self.assertIn('"X-Forwarded-Proto": ["{http.request.scheme}"]', dump)
        self.assertIn('"X-Forwarded-Host": ["{http.request.host}"]', dump)
        self.assertIn('"delete": ["Forwarded", "Proxy"]', dump)
        self.assertIn('"X-Request-Id": ["{http.request.uuid}"]', dump)
        self.assertIn("request_header -*_*", text)

    def test_caddy_json_access_log_without_query(self):
        f, text, adapted, _ = self.caddy()
        logs = adapted["logging"]["logs"]
        access = [l for l in logs.values()
                  if l.get("writer", {}).get("filename", "").endswith(
                      "/omni-access.log")]
        self.assertEqual(len(access), 1)
        enc = access[0]["encoder"]
        self.assertEqual(enc["format"], "filter")
        self.assertEqual(enc["wrap"]["format"], "json")
        self.assertEqual(enc["fields"]["request>uri"],
                         {"filter": "regexp", "regexp": "\\?.*$"})
        self.assertEqual(enc["fields"]["request>headers>Authorization"],
                         {"filter": "delete"})


# ----------------------------------------------------- the live fronts ---

class LiveProd:
    """Mixin: one production-rendered FRONT in front of a real pool and
    one in front of the FastCGI recorder."""

    FRONT = "nginx"

    @classmethod
    def setUpClass(cls):
        need("openssl", cls.FRONT)
        cls.dir = tempfile.mkdtemp(prefix="omni-prodlive-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.cert, cls.key = make_cert(cls.dir)
        cls.stack = harness.Stack("nginx", env={
            "OMNI_MAX_BODY": str(MAX_BODY)})
        cls.addClassCleanup(cls.stack.stop)
        cls.stack.start()
        cls.recorder = FcgiRecorder(os.path.join(cls.dir, "rec.sock"))
        cls.addClassCleanup(cls.recorder.close)
        cls.app = ProdFront(cls.FRONT, cls.dir, cls.stack.socket, cls.cert,
                            cls.key)
        cls.addClassCleanup(cls.app.stop)
        cls.app.start()
        cls.rec = ProdFront(cls.FRONT, cls.dir, cls.recorder.path, cls.cert,
                            cls.key)
        cls.addClassCleanup(cls.rec.stop)
        cls.rec.start()

    def rid(self, tag):
        return "prod-%s-%s-%d" % (self.FRONT, tag, os.getpid())

    def pool_saw(self, request_id):
        return [e for e in self.stack.pool_events()
                if e.get("event") == "request"
                and e.get("request_id") == request_id]

    def test_http_redirects_to_https(self):
        r = harness.request(self.app.http_port, "GET", "/x/y?a=1&b=2",
                            headers={"Host": "localhost"})
        self.assertEqual(r.status, 308, r)
        self.assertEqual(r.header("Location"), "https://localhost/x/y?a=1&b=2")

    def test_https_root_with_hsts_and_a_generated_request_id(self):
        r = self.app.https("GET", "/")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"status": "ok"})
        hsts_ok(self, r.header("Strict-Transport-Security"))
        rid = r.header("X-Request-Id")
        self.assertTrue(rid, r)
        # The id Omni logged is the one the front generated and returned.
        harness.wait_until(lambda: self.pool_saw(rid), 5,
                           what="pool log line with %s" % rid)
        again = self.app.https("GET", "/").header("X-Request-Id")
        self.assertNotEqual(again, rid)

    def test_request_id_kept_when_acceptable_replaced_when_not(self):
        rid = self.rid("keep")
        r = self.app.https("GET", "/", headers={"X-Request-Id": rid})
        self.assertEqual(r.header("X-Request-Id"), rid, r)
        r = self.app.https("GET", "/", headers={"X-Request-Id": "a b<c>"})
        new = r.header("X-Request-Id")
        self.assertTrue(new and new != "a b<c>", r)
        self.assertEqual([v for k, v in r.header_list
                          if k.lower() == "x-request-id"], [new])

    def test_old_protocols_and_weak_ciphers_refused(self):
        def handshake(ctx):
            with socket.create_connection(("127.0.0.1", self.app.https_port),
                                          timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    return s.version(), s.cipher()[0]

        def client(minv, maxv, ciphers=None):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = minv
                ctx.maximum_version = maxv
            if ciphers:
                ctx.set_ciphers(ciphers)
            return ctx

        v12 = ssl.TLSVersion.TLSv1_2
        self.assertEqual(handshake(client(v12, v12))[0], "TLSv1.2")
        self.assertEqual(handshake(client(ssl.TLSVersion.TLSv1_3,
                                          ssl.TLSVersion.TLSv1_3))[0],
                         "TLSv1.3")
        # TLS 1.2 with a CBC suite only: no shared cipher.
        with self.assertRaises(ssl.SSLError):
            handshake(client(v12, v12, "ECDHE-RSA-AES128-SHA:AES128-SHA"))
        # TLS 1.1, if this client can still offer it at all.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old = client(ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1,
                         "DEFAULT:@SECLEVEL=0")
        try:
            got = handshake(old)
        except ssl.SSLError as exc:
            if "NO_PROTOCOLS_AVAILABLE" in str(exc):
                return  # the local OpenSSL cannot send TLS 1.1 at all
            self.assertTrue("VERSION" in str(exc) or "PROTOCOL" in str(exc),
                            exc)
        except ConnectionResetError:
            pass  # refused by closing the connection
        else:
            self.fail("TLS 1.1 accepted: %r" % (got,))

    def test_public_metrics_answered_by_the_front_never_by_omni(self):
        for n, path in enumerate(("/metrics", "/metrics?format=x",
                                  "/metrics/", "//metrics", "/%6Detrics",
                                  "/./metrics")):
            rid = self.rid("pubmetrics%d" % n)
            r = self.app.https("GET", path, headers={"X-Request-Id": rid})
            self.assertEqual(r.status, 404, (path, r))
            self.assertEqual(r.json()["error"]["code"], "NOT_FOUND", path)
            self.assertEqual(r.header("X-Request-Id"), rid, path)
            hsts_ok(self, r.header("Strict-Transport-Security"))
            self.assertEqual(self.recorder.find(rid), [])
            # The same request to the recorder's front never reaches it.
            r = self.rec.https("GET", path, headers={"X-Request-Id": rid})
            self.assertEqual(r.status, 404, (path, r))
            self.assertEqual(self.recorder.find(rid), [], path)
        # Give the pool's log a moment: still no /metrics line from us.
        rid = self.rid("pubmetrics-last")
        self.app.https("GET", "/", headers={"X-Request-Id": rid})
        harness.wait_until(lambda: self.pool_saw(rid), 5, what="a request")
        seen = [e for e in self.stack.pool_events()
                if e.get("event") == "request"
                and str(e.get("request_id", "")).startswith(
                    "prod-%s-pubmetrics" % self.FRONT)
                and e["request_id"] != rid]
        self.assertEqual(seen, [])

    def test_metrics_listener_is_loopback_and_reaches_omni(self):
        port = self.app.metrics_port
        self.assertEqual(listening_addresses(port), {"127.0.0.1"})
        rid = self.rid("scrape")
        r = harness.request(port, "GET", "/metrics",
                            headers={"X-Request-Id": rid})
        line = harness.wait_until(lambda: self.pool_saw(rid), 5,
                                  what="the scrape in the pool's log")[0]
        self.assertEqual(line["path"], "/metrics", line)
        self.assertEqual(line["status"], r.status)
        if r.status == 200:
            self.assertTrue(r.header("Content-Type", "").startswith(
                "text/plain"), r)
            self.assertIn(b"# TYPE ", r.body)
        # TODO(lead): until Omni serves /metrics this is Omni's own 404;
        # the line in the pool's log shows the listener passed it on.
        for path in ("/", "/ready"):
            rid = self.rid("health" + path.strip("/"))
            harness.request(port, "GET", path, headers={"X-Request-Id": rid})
            harness.wait_until(lambda: self.pool_saw(rid), 5,
                               what="%s through the metrics listener" % path)
        # Nothing else is served there.
        rid = self.rid("other")
        r = harness.request(port, "POST", "/api/sandbox/create",
                            body={"userId": "x"},
                            headers={"X-Request-Id": rid})
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json()["error"]["code"], "NOT_FOUND")
        r = harness.request(self.rec.metrics_port, "GET", "/api/task/results",
                            headers={"X-Request-Id": rid})
        self.assertEqual(r.status, 404, r)
        self.assertEqual(self.recorder.find(rid), [])
        self.assertEqual(self.pool_saw(rid), [])
        # The scrape reaches Omni with the scraper's own address.
        rid = self.rid("scrape-rec")
        harness.request(self.rec.metrics_port, "GET", "/metrics",
                        headers={"X-Request-Id": rid,
                                 "X-Forwarded-For": "203.0.113.9"})
        params = harness.wait_until(lambda: self.recorder.find(rid), 5,
                                    what="scrape at the recorder")[0]
        self.assertEqual(params["REMOTE_ADDR"], "127.0.0.1")
        self.assertEqual(params["HTTP_X_FORWARDED_FOR"], "127.0.0.1")

    def test_forwarded_headers_are_the_fronts_own(self):
        rid = self.rid("fwd")
        r = self.rec.https("GET", "/api/task/results?taskId=t&userId=u",
                           headers={
                               "X-Request-Id": rid,
                               "X-Forwarded-For": "203.0.113.9",
                               "X-Forwarded-Proto": "http",
                               "X-Forwarded-Host": "attacker.example",
                               "X-Forwarded-Port": "1",
                               "X-Real-IP": "203.0.113.10",
                               "Forwarded": "for=203.0.113.11;proto=http",
                               "Proxy": "http://203.0.113.12:3128",
                           })
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"recorded": True})
        (params,) = self.recorder.find(rid)
        self.assertEqual(params["REMOTE_ADDR"], "127.0.0.1")
        self.assertEqual(params["HTTP_X_FORWARDED_FOR"], "127.0.0.1")
        self.assertEqual(params["HTTP_X_FORWARDED_PROTO"], "https")
        self.assertEqual(params["HTTP_X_FORWARDED_HOST"].split(":")[0],
                         "localhost")
        self.assertEqual(params["HTTP_X_FORWARDED_PORT"],
                         str(self.rec.https_port))
        self.assertEqual(params["HTTP_X_REAL_IP"], "127.0.0.1")
        self.assertEqual(params.get("HTTP_FORWARDED", ""), "")
        self.assertEqual(params.get("HTTP_PROXY", ""), "")
        self.assertNotIn("203.0.113", json.dumps(params))
        self.assertNotIn("attacker", json.dumps(params))
        self.assertEqual(params["QUERY_STRING"], "taskId=t&userId=u")

    def test_body_limit_answered_by_the_front(self):
        rid = self.rid("big")
        body = b'{"pad":"' + b"a" * MAX_BODY + b'"}'
        r = self.app.https("POST", "/debug/echo", body=body,
                           headers={"Content-Type": "application/json",
                                    "X-Request-Id": rid})
        self.assertEqual(r.status, 413, r)
        err = r.json()["error"]
        self.assertEqual(err["code"], "PAYLOAD_TOO_LARGE")
        self.assertEqual(err["details"]["limit"], MAX_BODY)
        self.assertEqual(r.header("X-Request-Id"), rid)
        hsts_ok(self, r.header("Strict-Transport-Security"))
        self.assertEqual(self.pool_saw(rid), [])
        # One byte under the limit reaches Omni.
        ok = b'{"pad":"' + b"a" * (MAX_BODY - 10) + b'"}'
        r = self.app.https("POST", "/debug/echo", body=ok,
                           headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)

    def test_access_log_is_json_without_query(self):
        rid = self.rid("log")
        secret = "secret-%d" % os.getpid()
        r = self.app.https("GET", "/api/knowledge/query?userId=%s&query=%s"
                           % (secret, secret),
                           headers={"X-Request-Id": rid,
                                    "Authorization": "Bearer " + secret,
                                    "User-Agent": "omni-test/1"})
        self.assertIn(r.status, (200, 400, 401, 404), r)

        def line():
            text, lines = self.app.access_lines()
            mine = [l for l in lines if self.request_id_of(l) == rid]
            return (text, mine[0]) if mine else None
        text, entry = harness.wait_until(line, 5, what="the access log line")
        self.assertNotIn(secret, text)
        self.assertNotIn("query=", text)
        self.check_entry(entry, r.status)

    def test_metrics_listener_logs_json_without_query(self):
        # The scrape is logged too, in its own file, as JSON.
        rid = self.rid("mlog")
        harness.request(self.app.metrics_port, "GET", "/metrics?x=secret",
                        headers={"X-Request-Id": rid})

        def line():
            text, lines = self.app.access_lines("omni-metrics-access.log")
            return text if any(self.request_id_of(l) == rid
                               for l in lines) else None
        text = harness.wait_until(line, 5, what="the metrics access log")
        self.assertNotIn("secret", text)


class NginxLiveProd(LiveProd, unittest.TestCase):
    FRONT = "nginx"

    @staticmethod
    def request_id_of(entry):
        return entry.get("request_id")

    def check_entry(self, entry, status):
        self.assertEqual(entry["path"], "/api/knowledge/query")
        self.assertEqual(entry["method"], "GET")
        self.assertEqual(entry["status"], status)
        self.assertEqual(entry["remote_addr"], "127.0.0.1")
        self.assertEqual(entry["scheme"], "https")
        self.assertEqual(entry["user_agent"], "omni-test/1")
        self.assertIsInstance(entry["request_time"], (int, float))
        self.assertIsInstance(entry["bytes"], int)
        self.assertNotEqual(entry["upstream_response_time"], "")


class CaddyLiveProd(LiveProd, unittest.TestCase):
    FRONT = "caddy"

    @staticmethod
    def request_id_of(entry):
        # Caddy logs the request's headers as the client sent them; the id
        # the request carried on (the client's or a new UUID) is the one
        # in the response.
        return (entry.get("resp_headers", {}).get("X-Request-Id")
                or [None])[0]

    def check_entry(self, entry, status):
        req = entry["request"]
        self.assertEqual(req["uri"], "/api/knowledge/query")
        self.assertEqual(req["method"], "GET")
        self.assertEqual(entry["status"], status)
        self.assertEqual(req["remote_ip"], "127.0.0.1")
        self.assertNotIn("Authorization", req.get("headers", {}))
        self.assertEqual(req["headers"]["User-Agent"], ["omni-test/1"])
        self.assertIn("duration", entry)


if __name__ == "__main__":
    unittest.main()
