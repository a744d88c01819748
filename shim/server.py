"""Serving DIR/shim.sock inside the shim's loop: connections, their buffers, their order.

Requests on one connection are answered in order: a `wait` holds the connection
(busy) until the process has exited, and later lines on it queue up behind it,
while other connections go on being served.  Sockets are non-blocking except for
the short, bounded write of an answer.
"""

from __future__ import annotations

import selectors
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from berth.shim import protocol, unixsock
from berth.shim.protocol import Answer, Request

_READ_SIZE = 65536
_SEND_TIMEOUT = 5.0  # a client that does not read must not stall the shim


@dataclass(eq=False)
class Conn:
    """One client connection; identity is what matters (it waits in a process's waiters)."""

    sock: socket.socket
    buf: bytearray = field(default_factory=bytearray)
    busy: bool = False  # a wait is pending: later requests on this connection queue up
    closed: bool = False


class Server:
    """The listener and its connections, registered in the loop's selector.

    `handle(conn, request)` answers a request, or returns None to answer later
    (through `resume`); `stopped()` true ends the reading of requests (after delete).
    """

    def __init__(self, sel: selectors.BaseSelector, handle: Callable[[Conn, Request], Answer | None],
                 stopped: Callable[[], bool]) -> None:
        self._sel = sel
        self._handle = handle
        self._stopped = stopped
        self._listener: socket.socket | None = None

    def listen(self, path: str) -> None:
        self._listener = unixsock.listen(path)
        self._listener.setblocking(False)
        self._sel.register(self._listener, selectors.EVENT_READ, self._accept)

    def send(self, conn: Conn, message: Answer) -> None:
        try:
            conn.sock.setblocking(True)
            conn.sock.settimeout(_SEND_TIMEOUT)
            conn.sock.sendall(protocol.encode(message))
            conn.sock.setblocking(False)
        except OSError:
            self._drop(conn)

    def resume(self, conn: Conn, message: Answer) -> None:
        """Answer a held request, then go on with what queued up behind it."""
        if conn.closed:
            return
        conn.busy = False
        self.send(conn, message)
        self._process(conn)

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            sock, _ = self._listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        conn = Conn(sock)
        self._sel.register(sock, selectors.EVENT_READ, lambda: self._read(conn))

    def _read(self, conn: Conn) -> None:
        try:
            data = conn.sock.recv(_READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        conn.buf += data
        self._process(conn)

    def _process(self, conn: Conn) -> None:
        while not conn.busy and not conn.closed and not self._stopped():
            line = protocol.next_line(conn.buf)
            if line is None:
                return
            message = protocol.answer(line, lambda request: self._handle(conn, request))
            if message is not None:
                self.send(conn, message)

    def _drop(self, conn: Conn) -> None:
        if conn.closed:
            return
        conn.closed = True
        try:
            self._sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
