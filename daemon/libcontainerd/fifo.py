"""The FIFO docker cp's tar goes through between berthd and berth-containerd (as
containerd hands a task's IO to a shim by FIFO paths): berthd makes it in a private
directory next to berth-containerd's socket, opens its own end non-blocking on the event
loop, and passes the path in the archive request; berth-containerd opens the other end.

berthd keeps a read end open for as long as the call lasts, also when it writes: bytes
written before berth-containerd has opened the FIFO stay in the pipe (a FIFO's buffer
lives while anyone has it open), and EOF is still the writer's close alone. When berthd
reads, it holds no write end: EOF is berth-containerd's close (and before
berth-containerd opened it, no writer either: berthd reads only after the stat came).

A directory is named by the berthd that made it (archive-PID-...): a berthd killed in
the middle of a cp leaves one, and the next berthd's first cp removes those whose berthd
is gone (another berthd may share this berth-containerd and be using its own). Once,
not at each cp: a listing of the exec root on the event loop per cp for what only a
crash leaves.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import weakref

from berth.common.fdready import ready

# The pipe's buffer, set here where the FIFO is made (berth-containerd's end is the same
# pipe): 1 MiB, /proc/sys/fs/pipe-max-size's default; a read takes up to a pipe-full
_PIPE_SIZE = 1 << 20
_swept: set[str] = set()  # the directories whose leftovers this berthd has removed


class Fifo:
    """`write`: berthd writes (cp in); its write end is open from the start, so that
    the reader never sees EOF before the first bytes."""

    def __init__(self, near: str, write: bool) -> None:
        if near not in _swept:
            _swept.add(near)
            _sweep(near)
        self._dir = tempfile.mkdtemp(prefix=f"archive-{os.getpid()}-", dir=near)  # 0700
        self.path = os.path.join(self._dir, "tar")
        self._fds: list[int] = []
        self._writer = -1
        # close() at most once, and also when a Fifo is dropped unclosed (a caller's bug):
        # berth-containerd then gets EPIPE rather than waiting on a pipe nobody reads
        self._release = weakref.finalize(self, _release, self._fds, self._dir)
        try:
            os.mkfifo(self.path, 0o600)
            self._reader = self._open(os.O_RDONLY)
            if write:
                self._writer = self._open(os.O_WRONLY)  # our own read end is there: never ENXIO
        except BaseException:
            self.close()
            raise
        try:
            fcntl.fcntl(self._reader, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        except OSError:
            pass  # a smaller buffer only costs more wakeups

    def _open(self, flags: int) -> int:
        fd = os.open(self.path, flags | os.O_NONBLOCK | os.O_CLOEXEC)
        self._fds.append(fd)
        return fd

    async def read(self) -> bytes:
        """The next bytes, b"" at EOF: only once the writer has opened the FIFO and
        closed it again (before it opened, a read end sees EOF too: wait for that)."""
        while True:
            try:
                return os.read(self._reader, _PIPE_SIZE)
            except BlockingIOError:
                await ready(self._reader)

    @property
    def writer(self) -> int:
        """The write end (non-blocking), for cp in's body."""
        return self._writer

    def close_writer(self) -> None:
        """The end of the data: the reader sees EOF once it has read what is there."""
        self._fds.remove(self._writer)
        os.close(self._writer)

    def close(self) -> None:
        self._release()


def _release(fds: list[int], directory: str) -> None:
    for fd in fds:
        os.close(fd)
    fds.clear()
    shutil.rmtree(directory, ignore_errors=True)


def _sweep(near: str) -> None:
    """Remove the FIFO directories of berthds that are gone."""
    try:
        names = os.listdir(near)
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if len(parts) == 3 and parts[0] == "archive" and parts[1].isdigit() \
                and not os.path.exists(f"/proc/{parts[1]}"):
            shutil.rmtree(os.path.join(near, name), ignore_errors=True)
