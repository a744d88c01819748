"""uvicorn's HTTP protocol with the two things docker's API needs that ASGI lacks:
the peer's credentials in every scope, and hijacked connections (`Upgrade: tcp`,
answered with 101 and then a raw stream both ways, as the docker CLI expects for
attach: the container's output out, the client's stdin in, a half-close for EOF).
A hijacked request's body (exec start sends one: Detach, Tty) is read by its
Content-Length before the 101, and handed to the session's serve. A chunked request
body is decoded here rather than by h11, a read at a time (chunked.py); on a unix socket
any body is also offered to the app as scope["berth.body"], to be spliced from the
socket into an fd without passing through Python (rawbody.py: docker cp's way in)."""

from __future__ import annotations

import asyncio
import os
import select
import socket
from typing import Any, Awaitable, Callable, Optional, Protocol

import h11
from starlette.requests import ClientDisconnect

from ..security.tls import subject_of
from . import chunked, rawbody
from .access import Peer, Scope, peer_of

# A request's body (chunked or by its Content-Length) read ahead of the app before the
# socket is paused: uvicorn's 64 KiB paused it after every read of docker cp's upload,
# so the client waited on each of the app's turns
_BODY_AHEAD = 1 << 20


class Hijacked(Protocol):
    """What serves a hijacked connection: output through the `write` it was made
    with, input through feed/feed_eof."""

    content_type: str

    def serve(self, body: bytes) -> Awaitable[None]: ...

    def feed(self, data: bytes) -> None: ...

    def feed_eof(self) -> None: ...


# (peer, method, path, query string, write) -> the session that serves the hijacked
# connection, or None when the request is not one to hijack.
Hijacker = Callable[[Optional[Peer], str, str, str, Callable[[bytes], None]], Optional[Hijacked]]


def make_protocol(base: type, hijack: Hijacker | None) -> type:
    class BerthProtocol(base):  # type: ignore[misc, valid-type]
        _peer: Peer | None = None
        _hijacked: asyncio.Task | None = None
        _session: Hijacked | None = None
        _pending: Hijacked | None = None
        _hangup: select.epoll | None = None
        _body: bytearray | None = None  # a hijacked request's body, until it is complete
        _body_length = 0
        _headers: dict[bytes, bytes] = {}  # noqa: RUF012 - replaced per connection, never mutated
        _chunked: chunked.ChunkedBody | None = None  # the current request's chunked body, decoded here
        _backlog = b""  # what h11 had read of that body with the request's head
        _spliceable = False  # a unix socket's connection, in the clear: a body rawbody can splice

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            unix = sock is not None and sock.family == socket.AF_UNIX
            self._peer = peer_of(sock) if unix else None
            self._spliceable = unix and not transport.get_extra_info("ssl_object")
            inner, peer = self.app, self._peer
            subject = subject_of(transport)  # a tcp:// client's verified certificate (audit)

            async def with_peer(scope: Scope, receive: Any, send: Any) -> None:
                scope["berth.peer"] = peer
                scope["berth.tls_subject"] = subject
                await inner(scope, receive, send)

            self.app = with_peer

        def _should_upgrade(self) -> bool:
            if hijack is not None and self._get_upgrade() in (b"tcp", b"websocket"):
                scope = self.scope
                self._pending = hijack(self._peer, scope["method"], scope["path"],
                                       scope["query_string"].decode("latin-1"), self.transport.write)
                if self._pending is not None:
                    return True
            if super()._should_upgrade():
                return True
            self._take_chunked_body()
            self._offer_body()
            return False

        def _take_chunked_body(self) -> None:
            """A chunked body is ours from here: h11 keeps its head and, at the end, a bare
            last chunk (all it needs to know the request ended)."""
            if not any(k == b"transfer-encoding" and b"chunked" in v.lower() for k, v in self.headers):
                return
            buf = getattr(self.conn, "_receive_buffer", None)  # h11 0.16's; what it read past the head
            if buf is None or not hasattr(buf, "_extract"):
                return  # another h11: its own (slower) decoding still works
            self._chunked = chunked.ChunkedBody()
            self._backlog = bytes(buf._extract(len(buf)))
            asyncio.get_running_loop().call_soon(self._flush_backlog)  # once uvicorn made the cycle

        def _flush_backlog(self) -> None:
            if self._chunked is not None and self._backlog:
                data, self._backlog = self._backlog, b""
                self._feed_chunked(data)

        def _feed_chunked(self, data: bytes) -> None:
            body = self._chunked
            assert body is not None
            try:
                pieces, rest = body.feed(data)
            except chunked.ChunkError:
                self._chunked = None
                self.send_400_response("Invalid HTTP request received.")
                return
            cycle = self.cycle
            if pieces and cycle is not None and not cycle.response_complete:
                if not cycle.body:  # as bytes, which uvicorn's receive hands on without a copy
                    cycle.body = pieces[0].tobytes() if len(pieces) == 1 else b"".join(pieces)
                else:  # the app is behind: appended to what waits
                    if not isinstance(cycle.body, bytearray):
                        cycle.body = bytearray(cycle.body)
                    for piece in pieces:
                        cycle.body += piece
                if len(cycle.body) > _BODY_AHEAD:
                    self.flow.pause_reading()
                cycle.message_event.set()
            if body.done:
                self._chunked = None
                super().data_received(b"0\r\n\r\n" + rest)  # h11 sees the end, then what follows

        def _offer_body(self) -> None:
            """scope["berth.body"], for a body the socket can splice: a unix socket's (the
            TCP listener's is TLS), chunked and decoded here, or by its Content-Length."""
            if not self._spliceable:
                return
            if self._chunked is None and not getattr(self.conn._reader, "_remaining", 0):
                return  # no body, or another h11's chunked decoding
            self.scope[rawbody.KEY] = rawbody.RawBody(self)

        def hand_over(self) -> rawbody.Handover:
            """The body's rest to rawbody: the socket is no longer read here, what was
            read of the body is handed on (with its decoding state) and h11 waits."""
            cycle = self.cycle
            if cycle is None or cycle.disconnected or self.transport.is_closing():
                raise ClientDisconnect()
            # the thread's, closed by RawBody.into on the loop once the thread has ended;
            # made first: once reading is paused nothing may fail before take_back
            fd = os.dup(self.transport.get_extra_info("socket").fileno())
            try:
                return self._hand_over(cycle, fd)
            except BaseException:
                os.close(fd)
                raise

        def _hand_over(self, cycle: Any, fd: int) -> rawbody.Handover:
            self.flow.pause_reading()
            if cycle.waiting_for_100_continue:  # uvicorn's receive would have sent it, as this
                cycle.waiting_for_100_continue = False  # does: through h11, which notes it
                self.transport.write(self.conn.send(h11.InformationalResponse(
                    status_code=100, headers=[], reason="Continue")))
            self._flush_backlog()
            if self.transport.is_closing():  # a bad chunk in what was read: answered 400
                cycle.disconnected = True
                raise ClientDisconnect()
            prefix, cycle.body = bytes(cycle.body), bytearray()
            if not cycle.more_body:
                os.close(fd)
                return rawbody.Handover(prefix, None, None)
            rest: rawbody.Framing
            if self._chunked is not None:
                rest, self._chunked = self._chunked, None
            else:
                rest = rawbody.Length(self.conn._reader._remaining)
            return rawbody.Handover(prefix, rest, socket.socket(fileno=fd))

        def take_back(self, rest: rawbody.Framing | None, error: BaseException | None, after: bytes) -> None:
            """The body is in (h11 sees its end and what the last read brought past it,
            then reads on from the socket), or it stopped: a bad chunk is answered 400, a
            client that left is gone (the app's answer, if any, goes nowhere); the rest of
            another is read and dropped."""
            if isinstance(error, (chunked.ChunkError, ClientDisconnect)):
                if self.cycle is not None:
                    self.cycle.disconnected = True
                if isinstance(error, chunked.ChunkError):
                    self.send_400_response("Invalid HTTP request received.")
                else:
                    self.transport.close()
                return
            self.flow.resume_reading()  # first: h11 may pause it again (a pipelined request)
            if isinstance(rest, chunked.ChunkedBody):
                if rest.done:
                    super().data_received(b"0\r\n\r\n" + after)
                else:
                    self._chunked = rest
            elif rest is not None:
                self.conn._reader._remaining = rest.left
                if rest.done:
                    self.handle_events()

        def handle_websocket_upgrade(self, event: Any) -> None:
            if self._pending is None:
                return super().handle_websocket_upgrade(event)
            self.connections.discard(self)
            session, self._pending = self._pending, None
            self._session = session
            self._headers = dict(self.headers)
            length = self._headers.get(b"content-length", b"0")
            self._body_length = int(length) if length.isdigit() else 0
            self._body = bytearray(self.conn.trailing_data[0])  # what h11 read past the headers
            self._begin_when_read()

        def _begin_when_read(self) -> None:
            """Once the body is in: the 101, then the session (what followed the body is its input)."""
            assert self._session is not None and self._body is not None
            if len(self._body) < self._body_length:
                return
            session, data = self._session, bytes(self._body)
            self._body = None
            body, rest = data[:self._body_length], data[self._body_length:]
            handshake = getattr(session, "handshake", None)  # a WebSocket's (streams/websocket.py)
            self.transport.write(handshake(self._headers) if handshake is not None else
                                 b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                                 b"Content-Type: " + session.content_type.encode() + b"\r\n\r\n")
            self._hijacked = asyncio.get_running_loop().create_task(self._serve_hijacked(session, body))
            if rest:
                session.feed(rest)

        async def _serve_hijacked(self, session: Hijacked, body: bytes) -> None:
            try:
                await session.serve(body)
            finally:
                if not self.transport.is_closing():
                    self.transport.close()

        def data_received(self, data: bytes) -> None:
            if self._session is not None:
                if self._body is not None:  # still the request's body
                    self._body += data
                    self._begin_when_read()
                    return
                self._session.feed(data)  # the client's stdin
                return
            if self._chunked is not None:
                self._flush_backlog()
                if self._chunked is not None:
                    self._feed_chunked(data)
                    return
            super().data_received(data)
            self._read_ahead()

        def _read_ahead(self) -> None:
            """A body by its Content-Length: uvicorn paused the socket at 64 KiB of it; it
            reads on to _BODY_AHEAD (uvicorn pauses it again past that, and its receive
            resumes it). Only while the body comes in (more_body): a pause for a pipelined
            request, after the body's end, stays."""
            cycle = self.cycle
            if self.flow.read_paused and cycle is not None and cycle.more_body and not cycle.response_complete \
                    and len(cycle.body) <= _BODY_AHEAD:
                self.flow.resume_reading()

        def eof_received(self) -> bool | None:
            if self._session is not None:
                self._session.feed_eof()  # the client's stdin ended; the output goes on
                self._watch_hangup()
                return True
            return super().eof_received()

        def _watch_hangup(self) -> None:
            """A client that half-closed still reads the output; one that closed altogether
            must end its session now, not at the next output, which an idle container may
            never write. On a unix socket only the latter raises POLLHUP, and epoll reports
            it even for a registration that asks for nothing else."""
            sock = self.transport.get_extra_info("socket")
            if sock is None or self._hangup is not None or sock.family != socket.AF_UNIX:
                return
            self._hangup = select.epoll()
            self._hangup.register(sock.fileno(), 0)
            asyncio.get_running_loop().add_reader(self._hangup.fileno(), self.transport.abort)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._hangup is not None:
                asyncio.get_running_loop().remove_reader(self._hangup.fileno())
                self._hangup.close()
                self._hangup = None
            if self._hijacked is not None:
                self._hijacked.cancel()
                self.connections.discard(self)
                return
            super().connection_lost(exc)

    return BerthProtocol
