#!/usr/bin/env python3
"""render-front.py -- render nginx/omni.conf or caddy/Caddyfile into a config.

The production files are templates; this script is the only thing that turns
them into configurations, for production as well as for tests, `make run`
and the benchmark, so every run exercises the production file.

Template syntax (both files):
  {$NAME:default}   a value: explicit --set/flag, else the run directory's
                    value (test mode), else the environment, else the default
  # >>> BLOCK       lines up to "# <<< BLOCK" are kept only when BLOCK is on:
                    tls   (production), plain (test mode), bench (--bench),
                    root  (nginx started as root: the `user` directive)

Modes:
  --production          TLS on, HTTP->HTTPS redirect, system paths
  --run-dir DIR         plain HTTP on 127.0.0.1:--port, FastCGI socket, pid,
                        temp and log paths under DIR (created), `user root`
                        when run as root, Caddy admin endpoint off

The nginx sizing rule is checked on every render:
  worker_processes x keepalive < pool threads (OMNI_WORKERS x OMNI_THREADS)
and a configuration that breaks it is refused (exit 2) unless
--no-sizing-check is given (only tests demonstrating the failure use it).

Examples:
  render-front.py nginx --run-dir /tmp/r --port 8080 --socket /tmp/r/omni.sock \\
      --pool-threads 32 --out /tmp/r/nginx.conf
  render-front.py caddy --production --out /etc/caddy/Caddyfile
Python 3 standard library only.
"""

import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATES = {
    "nginx": os.path.join(ROOT, "nginx", "omni.conf"),
    "caddy": os.path.join(ROOT, "caddy", "Caddyfile"),
}
BLOCKS = ("tls", "plain", "bench", "root")
PLACEHOLDER = re.compile(r"\{\$([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")
BLOCK_OPEN = re.compile(r"^\s*#\s*>>>\s*(\w+)\s*$")
BLOCK_CLOSE = re.compile(r"^\s*#\s*<<<\s*(\w+)\s*$")
SIZE = re.compile(r"^(\d+)([kKmMgG]?)$")  # as the binary parses it
DEFAULT_THREADS = 16  # the binary's default OMNI_THREADS


class RenderError(Exception):
    """A template or a value that cannot be rendered; the text says which."""


def parse_size(text, name="OMNI_MAX_BODY"):
    """Bytes from '1048576', '512k', '1m', '1g' (1024-based, as Omni)."""
    m = SIZE.match(str(text))
    if not m:
        raise RenderError("%s: not a size (got %r)" % (name, text))
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]
    return int(m.group(1)) * mult


def select_blocks(lines, enabled):
    """Drop the lines of disabled blocks and every marker line."""
    out, stack = [], []
    for number, line in enumerate(lines, 1):
        opened, closed = BLOCK_OPEN.match(line), BLOCK_CLOSE.match(line)
        if opened:
            name = opened.group(1)
            if name not in BLOCKS:
                raise RenderError("line %d: unknown block %r" % (number, name))
            stack.append(name)
            continue
        if closed:
            if not stack or stack[-1] != closed.group(1):
                raise RenderError("line %d: unbalanced block end %r"
                                  % (number, closed.group(1)))
            stack.pop()
            continue
        if all(name in enabled for name in stack):
            out.append(line)
    if stack:
        raise RenderError("block %r is never closed" % stack[-1])
    return out


def substitute(lines, values):
    """Replace every {$NAME:default} outside comment lines; returns
    (text, {name: value used}).  Runs of blank lines left by dropped blocks
    are folded into one."""
    used = {}

    def repl(m):
        name, default = m.group(1), m.group(2)
        if name in values:
            value = values[name]
        elif default is not None:
            value = default
        else:
            raise RenderError("%s: no value and no default" % name)
        used[name] = value
        return str(value)

    out = []
    for line in lines:
        if not line.strip() and out and not out[-1].strip():
            continue
        if not line.lstrip().startswith("#"):
            line = PLACEHOLDER.sub(repl, line)
            if "{$" in line:
                raise RenderError("unresolved placeholder in %r" % line)
        out.append(line)
    return "\n".join(out).rstrip("\n") + "\n", used


def pool_threads(args, env):
    """Total pool threads: --pool-threads, else OMNI_WORKERS x OMNI_THREADS
    as the binary would resolve them (0 or unset workers = cores)."""
    if args.pool_threads:
        return args.pool_threads
    try:
        workers = int(env.get("OMNI_WORKERS") or 0)
        threads = int(env.get("OMNI_THREADS") or DEFAULT_THREADS)
    except ValueError as exc:
        raise RenderError("OMNI_WORKERS/OMNI_THREADS: %s" % exc)
    if workers <= 0:
        workers = os.cpu_count() or 1
    return workers * threads


def check_sizing(used, threads):
    """nginx: worker_processes x keepalive must stay below pool threads."""
    workers = str(used.get("OMNI_NGINX_WORKERS", "1"))
    if workers == "auto":
        nginx_workers = os.cpu_count() or 1
    else:
        nginx_workers = int(workers)
    keepalive = int(used.get("OMNI_FCGI_KEEPALIVE", "0"))
    if nginx_workers * keepalive >= threads:
        raise RenderError(
            "sizing rule broken: nginx worker_processes (%d) x keepalive (%d)"
            " = %d idle FastCGI connections, not below the pool's %d threads"
            " (OMNI_WORKERS x OMNI_THREADS); lower OMNI_FCGI_KEEPALIVE or"
            " OMNI_NGINX_WORKERS, or raise the pool"
            % (nginx_workers, keepalive, nginx_workers * keepalive, threads))


def run_dir_values(front, args):
    """The values a test or `make run` directory imposes."""
    run = os.path.abspath(args.run_dir)
    logs = os.path.join(run, "logs")
    temp = os.path.join(run, "nginx-temp")
    for path in (run, logs, temp):
        os.makedirs(path, exist_ok=True)
    values = {
        "OMNI_LOG_DIR": logs,
        "OMNI_FCGI_SOCKET": os.path.abspath(args.socket
                                            or os.path.join(run, "omni.sock")),
        "OMNI_PLAIN_LISTEN": "127.0.0.1:%d" % args.port,
        "OMNI_PLAIN_ADDR": "127.0.0.1:%d" % args.port,
    }
    if front == "nginx":
        values.update({
            "OMNI_NGINX_PID": os.path.join(run, "nginx.pid"),
            "OMNI_NGINX_TEMP": temp,
            # Workers must reach a socket and temp dirs made by this user.
            "OMNI_NGINX_USER": "root",
        })
    else:
        values["OMNI_CADDY_ADMIN"] = "off"
    return values


def render(front, args, env=None):
    """Return the rendered configuration text."""
    env = dict(os.environ if env is None else env)
    with open(TEMPLATES[front], encoding="utf-8") as f:
        lines = f.read().splitlines()

    if args.production:
        enabled = {"tls", "root"}
        mode_values = {}
    else:
        enabled = {"plain"}
        if os.geteuid() == 0:
            enabled.add("root")
        mode_values = run_dir_values(front, args)
    if args.bench:
        enabled.add("bench")

    values = dict(env)
    values.update(mode_values)
    if args.max_body is not None:
        values["OMNI_MAX_BODY"] = args.max_body
    for item in args.set or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise RenderError("--set wants NAME=VALUE (got %r)" % item)
        values[name] = value
    if "OMNI_MAX_BODY" in values:
        values["OMNI_MAX_BODY"] = str(parse_size(values["OMNI_MAX_BODY"]))

    text, used = substitute(select_blocks(lines, enabled), values)
    if front == "nginx" and not args.no_sizing_check:
        check_sizing(used, pool_threads(args, env))
    return text


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Render nginx/omni.conf or caddy/Caddyfile.")
    ap.add_argument("front", choices=sorted(TEMPLATES))
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--production", action="store_true",
                      help="TLS, redirect and system paths")
    mode.add_argument("--run-dir", help="plain HTTP, paths under this dir")
    ap.add_argument("--port", type=int, default=8080,
                    help="plain-HTTP port on 127.0.0.1 (run-dir mode)")
    ap.add_argument("--socket", help="FastCGI unix socket path "
                    "(default RUN_DIR/omni.sock)")
    ap.add_argument("--max-body", help="OMNI_MAX_BODY (bytes, or k/m suffix)")
    ap.add_argument("--pool-threads", type=int,
                    help="OMNI_WORKERS x OMNI_THREADS of the pool in front of"
                    " which nginx runs (default from the environment)")
    ap.add_argument("--bench", action="store_true",
                    help="keep the benchmark-only blocks")
    ap.add_argument("--set", action="append", metavar="NAME=VALUE",
                    help="override one placeholder (repeatable)")
    ap.add_argument("--no-sizing-check", action="store_true",
                    help="skip the nginx keepalive rule (failure demos only)")
    ap.add_argument("--out", help="output file (default stdout)")
    args = ap.parse_args(argv)
    try:
        text = render(args.front, args)
    except (RenderError, OSError) as exc:
        print("render-front: %s" % exc, file=sys.stderr)
        return 2
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, args.out)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
