"""`GET /containers/{id}/attach/ws`: docker's attach over a WebSocket (RFC 6455).

It is served on the hijacked connection, like the `Upgrade: tcp` attach, by this small
framer of our own: the peer checks and the attach session (streams/attach.py) are the
same ones. As dockerd's, the output is raw (no stdcopy frames, with or without a tty),
one binary message per chunk (API 1.28 and later; text frames before), and what the
client sends in text or binary messages is the container's stdin. A close message
ends the session (and is answered); pings are answered with pongs.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_MAX_MESSAGE = 1 << 24  # a client's single message; stdin comes in pieces far smaller


class ProtocolError(Exception):
    """The client broke RFC 6455; the answer is a close with status 1002."""


def handshake(key: str) -> bytes:
    """The 101 that accepts the client's Sec-WebSocket-Key."""
    accept = base64.b64encode(hashlib.sha1(key.strip().encode() + _GUID).digest())
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")


def frame(opcode: int, payload: bytes = b"") -> bytes:
    """One final, unmasked frame (a server never masks)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


class Reader:
    """The client's frames, fed as bytes arrive: whole messages and control frames out."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._message = bytearray()
        self._fragmented = False

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        out: list[tuple[int, bytes]] = []
        while (parsed := self._one()) is not None:
            fin, opcode, payload = parsed
            if opcode >= CLOSE:  # control frames may come between a message's fragments
                if not fin or len(payload) > 125:
                    raise ProtocolError("fragmented or oversized control frame")
                out.append((opcode, payload))
                continue
            if (opcode == CONTINUATION) != self._fragmented:
                raise ProtocolError("unexpected continuation frame" if opcode == CONTINUATION
                                    else "new message inside a fragmented one")
            self._message += payload
            if len(self._message) > _MAX_MESSAGE:
                raise ProtocolError("message too big")
            self._fragmented = not fin
            if fin:
                out.append((BINARY, bytes(self._message)))
                self._message.clear()
        return out

    def _one(self) -> tuple[bool, int, bytes] | None:
        buf = self._buf
        if len(buf) < 2:
            return None
        fin, opcode = bool(buf[0] & 0x80), buf[0] & 0x0F
        if buf[0] & 0x70:
            raise ProtocolError("reserved bits set (no extension was negotiated)")
        if not buf[1] & 0x80:
            raise ProtocolError("a client's frame must be masked")
        n, at = buf[1] & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                return None
            n, at = struct.unpack_from("!H", buf, 2)[0], 4
        elif n == 127:
            if len(buf) < 10:
                return None
            n, at = struct.unpack_from("!Q", buf, 2)[0], 10
        if n > _MAX_MESSAGE:
            raise ProtocolError("frame too big")
        if len(buf) < at + 4 + n:
            return None
        mask = bytes(buf[at:at + 4])
        masked = bytes(buf[at + 4:at + 4 + n])
        del buf[:at + 4 + n]
        key = (mask * (n // 4 + 1))[:n]
        payload = (int.from_bytes(masked, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big") if n else b""
        return fin, opcode, payload


class WebSocketSession:
    """A hijacked session (daemon/http/protocol.py's Hijacked) carrying another one, the
    attach, inside WebSocket frames."""

    content_type = ""

    def __init__(self, make_inner: Callable[[Callable[[bytes], None]], object], write: Callable[[bytes], None],
                 binary: bool = True) -> None:
        self._write, self._opcode = write, BINARY if binary else TEXT
        self._reader = Reader()
        self._closed = False
        self._inner = make_inner(self._send)

    def handshake(self, headers: dict[bytes, bytes]) -> bytes:
        return handshake(headers.get(b"sec-websocket-key", b"").decode("latin-1"))

    def _send(self, data: bytes) -> None:
        if not self._closed:
            self._write(frame(self._opcode, data))

    def _close(self, code: int) -> None:
        if not self._closed:
            self._write(frame(CLOSE, struct.pack("!H", code)))
            self._closed = True

    def feed(self, data: bytes) -> None:
        try:
            messages = self._reader.feed(data)
        except ProtocolError:
            self._close(1002)
            self._inner.feed_eof()  # type: ignore[attr-defined]
            return
        for opcode, payload in messages:
            if opcode == BINARY:
                self._inner.feed(payload)  # type: ignore[attr-defined]
            elif opcode == PING:
                self._write(frame(PONG, payload))
            elif opcode == CLOSE:
                self._close(1000)
                self._inner.feed_eof()  # type: ignore[attr-defined]

    def feed_eof(self) -> None:
        self._inner.feed_eof()  # type: ignore[attr-defined]

    async def serve(self, body: bytes = b"") -> None:
        try:
            await self._inner.serve(body)  # type: ignore[attr-defined]
        finally:
            self._close(1000)  # the container's output ended (exit, detach)
