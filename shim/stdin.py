"""The container's stdin, fed from a FIFO the way containerd's shim does it.

The shim's caller (berthd, through berth-containerd) makes a FIFO and holds its
write end; the shim opens the read end and copies whatever arrives into the
container's stdin (the write end of a pipe, or the pty master).  EOF on the FIFO
(the caller closed it: StdinOnce) closes the container's stdin.

The shim is a single-threaded select loop (each fd registered with its callback as
selector data), so nothing here may block: the FIFO is read only while nothing is
waiting to be written, and a container that does not read its stdin makes the copy
wait for EVENT_WRITE instead of stalling the shim.
"""

from __future__ import annotations

import os
import selectors
from dataclasses import dataclass, field

_READ_SIZE = 65536


def open_fifo(path: str) -> int:
    """The read end, non-blocking: the caller already holds a writer, so no early EOF."""
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)


@dataclass
class StdinCopy:
    """FIFO -> container stdin; owns both fds once made and closes them when done."""

    sel: selectors.BaseSelector
    fifo: int
    target: int  # the container's stdin (pipe write end or a dup of the pty master)
    pending: bytearray = field(default_factory=bytearray)
    eof: bool = False
    closed: bool = False

    def __post_init__(self) -> None:
        os.set_blocking(self.target, False)
        self.sel.register(self.fifo, selectors.EVENT_READ, self.on_readable)

    def on_readable(self) -> None:
        """The FIFO has data (or its writer went away)."""
        if self.fifo < 0:
            return  # closed by an earlier callback of the same select batch (the exec's exit)
        try:
            data = os.read(self.fifo, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.eof = True
            self.sel.unregister(self.fifo)
            os.close(self.fifo)
            self.fifo = -1
            if not self.pending:
                self.close()
            return
        self.pending += data
        self._flush()

    def on_writable(self) -> None:
        """The container's stdin has room again."""
        if not self.closed:
            self._flush()

    def _flush(self) -> None:
        try:
            while self.pending:
                n = os.write(self.target, self.pending)
                del self.pending[:n]
        except BlockingIOError:
            pass
        except OSError:  # EPIPE/EIO: nobody reads the container's stdin any more
            self.close()
            return
        if self.pending:
            self._wait_for(writable=True)
        elif self.eof:
            self.close()
        else:
            self._wait_for(writable=False)

    def _wait_for(self, writable: bool) -> None:
        """Read the FIFO or wait to write the container's stdin, never both."""
        if self.fifo >= 0:
            self._unregister(self.fifo)
        self._unregister(self.target)
        if writable:
            self.sel.register(self.target, selectors.EVENT_WRITE, self.on_writable)
        elif self.fifo >= 0:
            self.sel.register(self.fifo, selectors.EVENT_READ, self.on_readable)

    def _unregister(self, fd: int) -> None:
        try:
            self.sel.unregister(fd)
        except (KeyError, ValueError):
            pass

    def close(self) -> None:
        """Stop copying; the container sees EOF on its stdin (pipe) once this is closed."""
        if self.closed:
            return
        self.closed = True
        for fd in (self.fifo, self.target):
            if fd >= 0:
                self._unregister(fd)
                os.close(fd)
        self.fifo = self.target = -1
        self.pending.clear()
