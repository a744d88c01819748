"""uvicorn's HTTP protocol with the two things docker's API needs that ASGI lacks:
the peer's credentials in every scope, and hijacked connections (`Upgrade: tcp`,
answered with 101 and then a raw stream, as the docker CLI expects for attach)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Awaitable, Callable, Optional

from .access import Peer, Scope, peer_of

# (peer, method, path, query string) -> a coroutine that serves the hijacked
# connection through `write`, or None when the request is not one to hijack.
Hijacker = Callable[[Optional[Peer], str, str, str, Callable[[bytes], None]], Optional[Awaitable[None]]]


def make_protocol(base: type, hijack: Hijacker | None) -> type:
    class BerthProtocol(base):  # type: ignore[misc, valid-type]
        _peer: Peer | None = None
        _hijacked: asyncio.Task | None = None
        _pending: Awaitable[None] | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            self._peer = peer_of(sock) if sock is not None and sock.family == socket.AF_UNIX else None
            inner, peer = self.app, self._peer

            async def with_peer(scope: Scope, receive: Any, send: Any) -> None:
                scope["berth.peer"] = peer
                await inner(scope, receive, send)

            self.app = with_peer

        def _should_upgrade(self) -> bool:
            if hijack is not None and self._get_upgrade() == b"tcp":
                scope = self.scope
                self._pending = hijack(self._peer, scope["method"], scope["path"],
                                       scope["query_string"].decode("latin-1"), self.transport.write)
                if self._pending is not None:
                    return True
            return super()._should_upgrade()

        def handle_websocket_upgrade(self, event: Any) -> None:
            if self._pending is None:
                return super().handle_websocket_upgrade(event)
            self.connections.discard(self)
            self.transport.write(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                                 b"Content-Type: application/vnd.docker.raw-stream\r\n\r\n")
            pending, self._pending = self._pending, None
            self._hijacked = asyncio.get_running_loop().create_task(self._serve_hijacked(pending))

        async def _serve_hijacked(self, pending: Awaitable[None]) -> None:
            try:
                await pending
            finally:
                if not self.transport.is_closing():
                    self.transport.close()

        def data_received(self, data: bytes) -> None:
            if self._hijacked is not None:
                return  # stdin of a hijacked attach is not forwarded yet
            super().data_received(data)

        def eof_received(self) -> bool | None:
            if self._hijacked is not None:
                return True  # the client half-closes when it has no stdin to send; keep writing
            return super().eof_received()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._hijacked is not None:
                self._hijacked.cancel()
                self.connections.discard(self)
                return
            super().connection_lost(exc)

    return BerthProtocol
