"""The shim's children: their output into their logs, their reaping, their exits made final.

The shim is a child subreaper, so the container's init (whose parent, the runtime,
exits) and everything orphaned inside the container is reaped here.  An exit is
final once the process is reaped and its output drained: only then do its waiters
hear it, so no log line is stamped after the exit an attached client was told of.
"""

from __future__ import annotations

import os
import selectors
import signal
import time
from collections.abc import Callable

from berth.common.timefmt import rfc3339_nano
from berth.shim.process import Proc, exit_code

_READ_SIZE = 65536
# After a process is reaped, how long to wait for its last output before its exit
# is final: pipes close when every holder is gone, which a process outside the
# container's pid namespace may delay forever.
_DRAIN_GRACE = 1.0


class Reaper:
    """The tracked processes (init and execs) of one shim; `on_final(proc)` hears each exit once."""

    def __init__(self, sel: selectors.BaseSelector, on_final: Callable[[Proc], None]) -> None:
        self._sel = sel
        self._on_final = on_final
        self._by_pid: dict[int, Proc] = {}
        self._by_fd: dict[int, Proc] = {}
        self._drain_deadline: float | None = None

    def track(self, proc: Proc) -> None:
        self._by_pid[proc.pid] = proc
        for fd in proc.outputs:
            self._by_fd[fd] = proc
            self._sel.register(fd, selectors.EVENT_READ, lambda fd=fd: self._read_output(fd))

    def reap(self) -> None:
        """Collect every child that has ended (tracked or orphaned in the container)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            proc = self._by_pid.get(pid)
            if proc is not None and proc.exit_status is None:
                # What it wrote before exiting is already in the pipes: log it first,
                # so no log line is stamped later than the exit.
                self._drain_now(proc)
                self._exited(proc, exit_code(status))
                self._maybe_finish(proc)

    def wait_for(self, proc: Proc) -> None:
        """Block until `proc` is reaped: after a force delete has killed it."""
        if proc.exit_status is not None:
            return
        try:
            _, status = os.waitpid(proc.pid, 0)
            code = exit_code(status)
        except ChildProcessError:
            # Reaped elsewhere (it should not be): a force delete is a SIGKILL.
            code = 128 + signal.SIGKILL
        self._exited(proc, code)

    def timeout(self) -> float | None:
        """How long the loop may block: until the drain grace runs out, if one runs."""
        if self._drain_deadline is None:
            return None
        return max(0.0, self._drain_deadline - time.monotonic())

    def on_timeout(self) -> None:
        if self._drain_deadline is not None and time.monotonic() >= self._drain_deadline:
            self.finish_all()

    def finish_all(self) -> None:
        """Stop waiting for output: every reaped process's exit becomes final now."""
        self._drain_deadline = None
        for proc in list(self._by_pid.values()):
            if proc.exit_status is not None and not proc.finished:
                self._drain_now(proc)
                self._finish(proc)

    def close(self) -> None:
        """Close every output and log; collect what has ended meanwhile."""
        for proc in self._by_pid.values():
            for fd in list(proc.outputs):
                self._close_output(proc, fd)
            proc.log.close()
        self.reap()

    def _exited(self, proc: Proc, code: int) -> None:
        proc.exit_status = code
        proc.exited_at = rfc3339_nano()

    def _read_output(self, fd: int) -> None:
        proc = self._by_fd[fd]
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:  # EIO: a pty whose last slave holder has gone
            data = b""
        if data:
            proc.log.feed(proc.outputs[fd], data)
            return
        self._close_output(proc, fd)
        self._maybe_finish(proc)

    def _close_output(self, proc: Proc, fd: int) -> None:
        proc.log.flush(proc.outputs.pop(fd))
        self._sel.unregister(fd)
        del self._by_fd[fd]
        os.close(fd)

    def _drain_now(self, proc: Proc) -> None:
        """Take what the pipes hold right now, without waiting for EOF."""
        for fd in list(proc.outputs):
            try:
                while data := os.read(fd, _READ_SIZE):
                    proc.log.feed(proc.outputs[fd], data)
            except (BlockingIOError, OSError):
                continue

    def _maybe_finish(self, proc: Proc) -> None:
        if proc.exit_status is None or proc.finished:
            return
        if proc.outputs:
            if self._drain_deadline is None:
                self._drain_deadline = time.monotonic() + _DRAIN_GRACE
            return
        self._finish(proc)

    def _finish(self, proc: Proc) -> None:
        proc.finished = True
        self._on_final(proc)
