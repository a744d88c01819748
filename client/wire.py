"""Just enough HTTP/1.1 over a unix socket for the Engine API, on the C socket module alone.

http.client would do, but importing it (with email and ssl behind it) costs
about as much as the rest of `berth ps` together; and attach needs the raw
connection after a 101 anyway. Even the `socket` module is more than we need:
importing it builds enum classes for every constant (and imports enum and
selectors); its C core, `_socket`, has the same socket type, less only
makefile(), for which Response keeps its own small buffer. One request per
connection keeps this small: bodies end by Content-Length, by chunked encoding,
or when the daemon closes.
"""

from __future__ import annotations

import _socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

_CHUNK = 65536
_MAX_LINE = 65536


class ProtocolError(Exception):
    """The daemon's answer was not HTTP we understand."""


def connect(path: str) -> _socket.socket:
    """A connected AF_UNIX stream socket; OSError (EACCES, ENOENT, ...) as the kernel says."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock


def send_request(sock: _socket.socket, method: str, target: str, headers: dict[str, str],
                 body: bytes | Iterable[bytes] | None) -> None:
    """Write one request; a body that is not bytes is sent with chunked encoding."""
    hdrs = dict(headers)
    if isinstance(body, (bytes, bytearray)):
        hdrs["Content-Length"] = str(len(body))
    elif body is not None and "Content-Length" not in hdrs:
        hdrs["Transfer-Encoding"] = "chunked"
    elif body is None and method in ("POST", "PUT"):
        hdrs["Content-Length"] = "0"
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    if isinstance(body, (bytes, bytearray)):
        sock.sendall(head.encode("latin-1") + body)
        return
    sock.sendall(head.encode("latin-1"))
    if body is None:
        return
    chunked = hdrs.get("Transfer-Encoding") == "chunked"
    for data in body:
        if not data:
            continue
        if chunked:
            sock.sendall(b"%x\r\n" % len(data) + data + b"\r\n")
        else:
            sock.sendall(data)
    if chunked:
        sock.sendall(b"0\r\n\r\n")


class Response:
    """A status, lower-cased headers, and a body read as it arrives."""

    def __init__(self, sock: _socket.socket, method: str = "GET") -> None:
        self.sock = sock
        self._buf = b""  # received, not yet handed out
        while True:
            self.status, self.reason = self._status_line()
            self.headers = self._headers()
            if self.status != 100:  # 100 Continue precedes the real answer
                break
        self._left = 0  # bytes left in the current chunk, or of a Content-Length body
        if self.status == 101:
            self._mode = "raw"  # the connection is now the container's stream
        elif method == "HEAD" or self.status in (204, 304):
            self._mode = "done"
        elif "chunked" in self.headers.get("transfer-encoding", "").lower():
            self._mode = "chunked"
        elif "content-length" in self.headers:
            self._mode = "length"
            self._left = int(self.headers["content-length"])
        else:
            self._mode = "raw"

    def _line(self) -> bytes:
        """The next line, its end included; at the connection's end, what is left of it."""
        while (end := self._buf.find(b"\n")) < 0:
            if len(self._buf) > _MAX_LINE:
                raise ProtocolError("the daemon sent a line too long to be HTTP")
            data = self.sock.recv(_CHUNK)
            if not data:
                if not self._buf:
                    raise ProtocolError("the daemon closed the connection without an answer")
                end = len(self._buf) - 1
                break
            self._buf += data
        line, self._buf = self._buf[:end + 1], self._buf[end + 1:]
        return line

    def _read1(self, size: int) -> bytes:
        """Up to `size` bytes: what is buffered, else one recv; b"" when the daemon has closed."""
        if self._buf:
            data, self._buf = self._buf[:size], self._buf[size:]
            return data
        return self.sock.recv(size)

    def _status_line(self) -> tuple[int, str]:
        parts = self._line().decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ProtocolError(f"malformed HTTP status line: {' '.join(parts)!r}")
        return int(parts[1]), parts[2] if len(parts) > 2 else ""

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        while True:
            line = self._line().decode("latin-1").rstrip("\r\n")
            if not line:
                return headers
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def read1(self) -> bytes:
        """The next piece of the body, b"" at its end."""
        mode = self._mode
        if mode == "done":
            return b""
        if mode == "raw":
            return self._read1(_CHUNK)
        if mode == "length":
            if self._left <= 0:
                return b""
            data = self._read1(min(self._left, _CHUNK))
            if not data:
                raise ProtocolError("the daemon closed the connection in the middle of an answer")
            self._left -= len(data)
            return data
        if self._left == 0:
            size_line = self._line().split(b";", 1)[0].strip()
            try:
                self._left = int(size_line, 16)
            except ValueError:
                raise ProtocolError(f"malformed chunk size {size_line!r}") from None
            if self._left == 0:
                while self._line() not in (b"\r\n", b"\n"):  # trailers
                    pass
                self._mode = "done"
                return b""
        data = self._read1(min(self._left, _CHUNK))
        if not data:
            raise ProtocolError("the daemon closed the connection in the middle of an answer")
        self._left -= len(data)
        if self._left == 0:
            self._line()  # the CRLF after each chunk
        return data

    def __iter__(self) -> Iterator[bytes]:
        while True:
            data = self.read1()
            if not data:
                return
            yield data

    def read(self) -> bytes:
        return b"".join(self)

    def close(self) -> None:
        self.sock.close()
