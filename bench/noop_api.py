"""A canned Docker API on a unix socket that does no work: what `docker exec C true` and
`berth exec C true` cost when the engine costs nothing (the clients' own floor).

It answers the requests an exec makes, in docker's order (HEAD /_ping, the container's
inspect, the exec's create, its hijacked start, its inspect), each from bytes made once,
in one write, from a thread per connection; the hijacked start ends at once, as a `true`
with no output would.
"""

from __future__ import annotations

import json
import os
import socket
import threading

CONTAINER = "c" * 64
EXEC = "e" * 64
_HEAD = b"Api-Version: 1.45\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: noop\r\n"


def _answer(status: bytes, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\n" + _HEAD + b"Content-Type: " + content_type +
            b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


_PING = _answer(b"200 OK", b"", b"text/plain; charset=utf-8")
_INSPECT = _answer(b"200 OK", json.dumps({"Id": CONTAINER, "Name": "/noop", "State": {"Running": True, "Status": "running"},
                                          "Config": {"Tty": False, "OpenStdin": False}, "HostConfig": {}}).encode())
_CREATED = _answer(b"201 Created", json.dumps({"Id": EXEC}).encode())
_EXEC = _answer(b"200 OK", json.dumps({"ID": EXEC, "Running": False, "ExitCode": 0, "Pid": 1,
                                       "ContainerID": CONTAINER}).encode())
_UPGRADED = (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
             b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")


def _serve(conn: socket.socket) -> None:
    buf = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            method, target = lines[0].split(b" ")[:2]
            length = next((int(v) for k, _, v in (h.partition(b":") for h in lines[1:])
                           if k.strip().lower() == b"content-length"), 0)
            while len(buf) < length:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            buf = buf[length:]
            path = target.split(b"?")[0]
            if path.endswith(b"/_ping"):
                conn.sendall(_PING if method == b"HEAD" else _PING.replace(b"Length: 0", b"Length: 2") + b"OK")
            elif path.endswith(b"/start"):
                conn.sendall(_UPGRADED)
                conn.shutdown(socket.SHUT_WR)  # the output's end: no output
                while conn.recv(65536):
                    pass
                return
            elif path.endswith(b"/exec"):
                conn.sendall(_CREATED)
            elif b"/exec/" in path:
                conn.sendall(_EXEC)
            else:
                conn.sendall(_INSPECT)


def start(path: str) -> socket.socket:
    """Listening on `path` until the returned socket is closed."""
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=_serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return server
