"""A minimal FastCGI client (responder role) for tests: one request per
connection, params and stdin in, the CGI response parsed out.

    status, headers, body = fcgi_request(("127.0.0.1", port), "GET", "/")
"""
import socket
import struct

FCGI_VERSION = 1
BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7
RESPONDER = 1


def _record(rtype, content, req_id=1):
    out = b""
    # Records carry at most 65535 bytes; empty content ends a stream.
    chunks = [content[i:i + 65535] for i in range(0, len(content), 65535)] \
        or [b""]
    for c in chunks:
        out += struct.pack("!BBHHBx", FCGI_VERSION, rtype, req_id, len(c), 0)
        out += c
    return out


def _pair(name, value):
    def ln(n):
        return struct.pack("!B", n) if n < 128 else struct.pack(
            "!I", n | 0x80000000)
    n, v = name.encode(), value.encode()
    return ln(len(n)) + ln(len(v)) + n + v


def fcgi_request(address, method, uri, body=b"", headers=None,
                 timeout=10.0, remote_addr="127.0.0.1"):
    """Send one request; return (status, {lower-name: value}, body).
    'address' is (host, port) or a Unix socket path; remote_addr=None
    sends no REMOTE_ADDR."""
    path, _, query = uri.partition("?")
    params = {
        "REQUEST_METHOD": method, "REQUEST_URI": uri, "QUERY_STRING": query,
        "DOCUMENT_URI": path, "SCRIPT_NAME": path, "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "CONTENT_LENGTH": str(len(body)) if body else "",
    }
    if remote_addr is not None:
        params["REMOTE_ADDR"] = remote_addr
    for k, v in (headers or {}).items():
        key = k.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            params[key] = v
        else:
            params["HTTP_" + key] = v
    if isinstance(address, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(address)
        msg = _record(BEGIN_REQUEST, struct.pack("!HB5x", RESPONDER, 0))
        msg += _record(PARAMS, b"".join(_pair(k, v) for k, v in
                                        params.items())) + _record(PARAMS, b"")
        if body:
            msg += _record(STDIN, body)
        msg += _record(STDIN, b"")
        s.sendall(msg)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    out, pos = b"", 0
    while pos + 8 <= len(data):
        _, rtype, _, clen, plen = struct.unpack("!BBHHBx", data[pos:pos + 8])
        content = data[pos + 8:pos + 8 + clen]
        pos += 8 + clen + plen
        if rtype == STDOUT:
            out += content
    head, _, rbody = out.partition(b"\r\n\r\n")
    status, hdrs = 200, {}
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            hdrs[name.strip().lower()] = value.strip()
    return status, hdrs, rbody
