"""A request's body moved from the client's socket into a pipe by the kernel, splice(2),
without passing through Python: docker cp's upload (PUT /containers/{id}/archive) into
the FIFO berth-containerd extracts from (which splices it on into the file). Decoding it
in Python took four copies of every byte in berthd (recv, decode, join, write) and an
event-loop turn per read; here berthd reads only the few bytes of chunk framing between
two chunks' data (as many as the last framing was long: a longer one is read on, a
shorter one brings a few data bytes along, written), and the data itself goes socket ->
pipe in the kernel, exactly a chunk's length at a time.

The HTTP protocol (protocol.py) offers the body as scope["berth.body"] on a unix socket
(the TCP listener is TLS: its bytes must be decrypted in Python, so its body takes the
ASGI stream). The app claims it with `await into(fd)`: the protocol stops reading the
socket, hands over what it had read ahead (written first) and its decoding state
(chunked.ChunkedBody, or a Length), and a thread of its own splices the rest. When the
body is in, h11 is told so, gets what the last read brought past the body's end, and
reads on from the socket (a pipelined request). A body
stopped early (the caller's call failed first) goes back to the protocol, which reads
the rest and drops it, as it drops what an app leaves unread; a client that leaves or a
bad chunk is the app's ClientDisconnect (the protocol answers a bad chunk with a 400).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Protocol

from starlette.requests import ClientDisconnect

from berth.common.fdready import ready

from .chunked import ChunkError

if TYPE_CHECKING:
    from ..libcontainerd.archive import BodyWriter

KEY = "berth.body"

_SPLICE_F_MOVE, _SPLICE_F_NONBLOCK = 1, 2
_GUESS = 8  # the framing between two chunks, first guess: CRLF and "8000\r\n" (the docker CLI's 32 KiB)
_MAX_GUESS = 4096  # a longer framing (extensions) is read in several turns
_SPLICE = 1 << 20  # at most per splice: the FIFO's pipe (libcontainerd/fifo.py)


class Framing(Protocol):
    """What is left of a body: `left` bytes the kernel may move as they are, then
    framing (`feed` decodes it: the data bytes a read brought along, and what follows
    the body once it is done), until done."""

    @property
    def done(self) -> bool: ...

    @property
    def left(self) -> int: ...

    def took(self, n: int) -> None: ...

    def feed(self, data: bytes) -> tuple[list[memoryview], bytes]: ...


class Length:
    """The rest of a body by its Content-Length: no framing."""

    def __init__(self, left: int) -> None:
        self.left = left

    @property
    def done(self) -> bool:
        return not self.left

    def took(self, n: int) -> None:
        self.left -= n

    def feed(self, data: bytes) -> tuple[list[memoryview], bytes]:
        raise AssertionError("a Length body is all data: it is never fed")


@dataclass
class Handover:
    prefix: bytes  # the body's bytes the protocol had read already
    rest: Framing | None  # None: the body was all in prefix
    sock: socket.socket | None  # a dup of the client's socket, for the rest
    # what the pump read past the body's end (h11's), set as soon as it is known: the
    # writes after it may still be stopped or fail
    after: bytes = b""


class Source(Protocol):
    """The HTTP protocol's side (protocol.py)."""

    def hand_over(self) -> Handover: ...

    def take_back(self, rest: Framing | None, error: BaseException | None, after: bytes) -> None: ...


class _Stopped(Exception):
    """The caller stopped the body before its end."""


class RawBody:
    """scope["berth.body"]: the request's body, once, into an fd."""

    def __init__(self, source: Source) -> None:
        self._source = source

    async def into(self, fd: int) -> None:
        # made before the hand-over: once the protocol has handed over (its socket paused,
        # a dup made), nothing may fail before take_back
        stop = os.eventfd(0, os.EFD_CLOEXEC)
        try:
            await self._pumped(fd, stop)
        finally:
            os.close(stop)

    async def _pumped(self, fd: int, stop: int) -> None:
        h = self._source.hand_over()
        error: BaseException | None = None
        try:
            await _in_thread(lambda: _pump(h, fd, stop), stop)
        except BaseException as e:
            error = e
            if isinstance(e, ChunkError):
                raise ClientDisconnect() from None
            raise
        finally:
            if h.sock is not None:
                h.sock.close()
            self._source.take_back(h.rest, error, h.after)  # however the pump ended


def writer(scope: dict[str, Any], stream: Callable[[], AsyncIterator[bytes]]) -> BodyWriter:
    """How the request's body gets into an fd: spliced, or (TLS) the ASGI stream written."""
    raw = scope.get(KEY)
    if raw is not None:
        return raw.into

    async def written(fd: int) -> None:
        async for piece in stream():
            await _write(fd, piece)
    return written


async def _in_thread(fn: Callable[[], None], stop: int) -> None:
    """fn in a thread of its own; a cancelled caller stops it (the stop fd) and waits
    for it to end, since it uses fds the caller closes afterwards."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def run() -> None:
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - handed to the waiting task
            loop.call_soon_threadsafe(_settle, done, e)
        else:
            loop.call_soon_threadsafe(_settle, done, None)

    threading.Thread(target=run, name="berthd-body", daemon=True).start()
    try:
        await asyncio.shield(done)
    except asyncio.CancelledError:
        os.eventfd_write(stop, 1)
        while not done.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([done])
        done.exception()  # retrieved: the cancellation is what the caller sees
        raise


def _settle(done: asyncio.Future, error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


def _pump(h: Handover, dst: int, stop: int) -> None:
    """The thread: what was read ahead, then the rest from the socket, into dst; what
    it read past the body's end in h.after (for h11)."""
    writable = select.poll()
    writable.register(dst, select.POLLOUT)
    writable.register(stop, select.POLLIN)
    _write_all(dst, h.prefix, writable, stop)
    if h.rest is None or h.sock is None:
        return
    rest, sock = h.rest, h.sock
    fd, flags = sock.fileno(), _SPLICE_F_MOVE | _SPLICE_F_NONBLOCK
    readable = select.poll()
    readable.register(sock, select.POLLIN)
    readable.register(stop, select.POLLIN)
    guess, run = _GUESS, 0
    try:
        while not rest.done:
            if left := rest.left:
                try:
                    n = os.splice(fd, dst, min(left, _SPLICE), flags=flags)
                except BlockingIOError:  # no data yet, or the pipe is full
                    _wait(readable, stop)
                    _wait(writable, stop)
                    continue
                if not n:
                    raise ClientDisconnect()
                rest.took(n)
                continue
            # The framing between two chunks' data, read as long as the last one was:
            # a guess too long reads a little data (written) or what follows the body
            try:
                head = sock.recv(guess)
            except BlockingIOError:
                _wait(readable, stop)
                continue
            if not head:
                raise ClientDisconnect()
            pieces, after = rest.feed(head)
            if rest.done:
                h.after = bytes(after)  # before the writes below, which may be stopped
            data = 0
            for piece in pieces:
                data += len(piece)
                _write_all(dst, piece, writable, stop)
            run += len(head) - data - len(after)
            if rest.left or data:
                guess, run = min(max(run, 3), _MAX_GUESS), 0
    except (ConnectionResetError, ConnectionAbortedError):
        raise ClientDisconnect() from None


def _write_all(dst: int, data: bytes | memoryview, writable: select.poll, stop: int) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(dst, view):]
        except BlockingIOError:
            _wait(writable, stop)


def _wait(p: select.poll, stop: int) -> None:
    if any(fd == stop for fd, _ in p.poll()):
        raise _Stopped()


async def _write(fd: int, data: bytes) -> None:
    """`data` into a non-blocking pipe, waiting on the event loop while it is full."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            await ready(fd, write=True)
