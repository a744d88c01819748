"""docker cp's bulk bytes through a FIFO the caller (berthd) made, as containerd hands a
task's IO to its shim: the tar goes through a pipe, not through gRPC messages (each of
which Python's gRPC copies several times and handles in Python on both ends), and a
regular file's data goes from its page cache into the pipe by splice(2), with no copy
through this process at all.

The FIFO is opened without following a symlink and must be one (never a regular file
the path was swapped for); it is opened non-blocking, so that a caller that went away
fails the call rather than hanging it, then made blocking for the transfer (a gRPC
worker thread's, which may wait on a slow reader).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import tarfile
from typing import Iterable, Iterator

from ..diff.safetar import Feed
from ..errors import FailedPrecondition, InvalidArgument
from .tarout import Body

_READ = 1 << 20  # a file's read where splice is refused


def open_fifo(path: str, write: bool) -> int:
    """The caller's FIFO, for writing (ReadArchive's tar) or reading (WriteArchive's);
    required (a caller without one, an older berthd, would otherwise get an empty tar)."""
    if not path:
        raise InvalidArgument("archive: no fifo in the request (berthd and berth-containerd of different versions?)")
    flags = (os.O_WRONLY if write else os.O_RDONLY) | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno == errno.ENXIO:  # no reader: the caller has gone
            raise FailedPrecondition(f"archive fifo {path}: nobody reads it") from None
        raise InvalidArgument(f"archive fifo {path}: {e.strerror}") from None
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            raise InvalidArgument(f"archive fifo {path}: not a fifo")
        os.set_blocking(fd, True)  # the pipe's size is the caller's, who made it
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _splice_all(src: int, dst: int, size: int) -> tuple[int, bool]:
    """Up to `size` bytes spliced from `src` to `dst`: (bytes left, whether the kernel
    refused to splice: EINVAL, a file system without splice_read). Bytes left and no
    refusal: `src` ended first."""
    while size > 0:
        try:
            n = os.splice(src, dst, size)
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
            return size, True
        if n == 0:
            return size, False
        size -= n
    return 0, False


def _splice(fd: int, body: Body) -> None:
    """A file's data into the pipe; a file truncated meanwhile is padded with zeros to
    the size its header gave (the tar stays well-formed)."""
    left, refused = _splice_all(body.fd, fd, body.size)
    if refused:
        _copy(fd, body.fd, left)
    elif left:
        _write_all(fd, bytes(left))


def _copy(fd: int, src: int, left: int) -> None:
    """The rest of a file's data read and written, from where splice left it."""
    while left > 0:
        chunk = os.read(src, min(left, _READ))
        if not chunk:
            _write_all(fd, bytes(left))
            return
        _write_all(fd, chunk)
        left -= len(chunk)


def send(fd: int, items: Iterable[bytes | Body]) -> None:
    """The tar (tarout's pieces and file bodies) into the FIFO."""
    for item in items:
        if isinstance(item, Body):
            _splice(fd, item)
        else:
            _write_all(fd, item)


def pieces(fd: int) -> Iterator[bytes]:
    """What the FIFO holds until its writer closes it, up to a pipe-full a read."""
    size = fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
    while chunk := os.read(fd, size):
        yield chunk


class PipeFeed(Feed):
    """The tar read from the FIFO: headers through Feed's pieces, a file's data spliced
    from the pipe into the file (no copy through this process), after what Feed has
    read of it already (its queue, which it only refills when empty)."""

    def __init__(self, fd: int) -> None:
        super().__init__(pieces(fd))
        self._fd = fd

    def copy_to(self, fd: int, size: int) -> None:
        queued = min(size, sum(map(len, self._queue)))
        super().copy_to(fd, queued)  # what Feed holds already: it reads no more for that
        size -= queued
        left, refused = _splice_all(self._fd, fd, size)
        self._pos += size - left
        if refused:
            super().copy_to(fd, left)  # a file system that takes no splice
        elif left:
            raise tarfile.ReadError("unexpected end of data")


def drain(fd: int) -> None:
    """The FIFO read to its EOF, berthd's close once the client's whole body is in: what
    follows the tar's end (a tar writer's padding) is read rather than refused (berthd
    would get EPIPE for it), and so the answer waits for the whole body."""
    for _ in pieces(fd):
        pass
