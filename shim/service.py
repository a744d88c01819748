"""The shim's life after spawn: create the container, then one single-threaded loop.

No threads: exec and the runtime fork, and a forking process must not run others.
The loop multiplexes (selectors) the container's output pipes, the SIGCHLD wakeup
pipe, the stdin FIFO and the clients of DIR/shim.sock; whoever registers an fd
gives a callback as its selector data.  The jobs live apart: reaper.py (children,
output, exits), server.py and protocol.py (the socket and its JSON lines),
handlers.py (the ops).  This module holds them together and records the init's
exit in DIR/exit.json before any waiter hears it.
"""

from __future__ import annotations

import ctypes
import os
import selectors
import signal
import time
from typing import Any

from berth.common.files import write_atomic, write_json_atomic
from berth.shim import cgroup, handlers, jsonlog, runtime, stdin
from berth.shim.libc import LIBC
from berth.shim.options import ShimOptions
from berth.shim.process import Proc, start_process
from berth.shim.protocol import Answer, Request
from berth.shim.reaper import Reaper
from berth.shim.runtime import Runtime, RuntimeFailure
from berth.shim.server import Conn, Server

_PR_SET_CHILD_SUBREAPER = 36
_OOM_RECHECK = 0.02  # seconds between looks at the OOM count after a wakeup...
_OOM_RECHECK_FOR = 2.0  # ...for this long (a kill with the OOM killer disabled never comes)


def _set_subreaper() -> None:
    """Become the reaper of the container's init, whose parent (the runtime) exits."""
    if LIBC.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


class Shim:
    """The state of one shim and its loop; one instance per process."""

    def __init__(self, options: ShimOptions) -> None:
        self.options = options
        self.rt = Runtime(options.runtime, options.runtime_root, os.path.join(options.bundle, "log.json"))
        self.sel = selectors.DefaultSelector()
        self.init: Proc | None = None
        self.execs: dict[str, Proc] = {}
        self.started_at = ""
        self.paused = False  # frozen by the runtime (pause), until resume
        self.deleted = False
        self.stdin_copy: stdin.StdinCopy | None = None
        self.cgroup: cgroup.Paths = {}  # the container's cgroup, found at create
        self._oom_base = 0  # OOM kills counted before the container's (a reused cgroup)
        self._oom_seen = 0  # the count at the last wakeup of the notifier
        self._oom_told = 0  # the count last told to an OOM watcher (a wait with "oom")
        self._oom_fd: int | None = None
        self._oom_recheck_until: float | None = None  # a wakeup came before the kill was counted
        self.oom_watchers: list[Conn] = []  # init waiters that also want to hear of OOM kills
        self.oom_killed = False
        self.reaper = Reaper(self.sel, self._exit_final)
        self.server = Server(self.sel, self._handle, lambda: self.deleted)
        self._wake_r, self._wake_w = os.pipe()

    def create(self) -> int:
        """Become a subreaper, create the container, listen; return the container's pid."""
        _set_subreaper()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        # A Python-level handler is what makes CPython write to the wakeup fd.
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        self.sel.register(self._wake_r, selectors.EVENT_READ, self._on_sigchld)
        o = self.options
        pid_file = os.path.join(o.bundle, "init.pid")

        def launch(stdio: runtime.Stdio, console: str | None) -> int:
            return runtime.create(self.rt, o.id, o.bundle, stdio, console, pid_file)

        self.init = start_process(o.terminal, o.stdin, o.log_path, launch, jsonlog.rotation(o.bundle))
        self.reaper.track(self.init)
        self.cgroup = cgroup.locate(self.init.pid)
        self._oom_base = self._oom_seen = self._oom_told = cgroup.oom_kills(self.cgroup)
        self._oom_fd = cgroup.oom_notifier(self.cgroup)
        if self._oom_fd is not None:
            self.sel.register(self._oom_fd, selectors.EVENT_READ, self._on_oom)
        try:
            if o.stdin_path and self.init.stdin_fd >= 0:
                fifo = stdin.open_fifo(o.stdin_path)
                if not o.stdin_once:
                    # never closed: the shim's exit is this writer's end
                    os.open(o.stdin_path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                self.stdin_copy = stdin.StdinCopy(self.sel, fifo, self.init.stdin_fd)
                self.init.stdin_fd = -1  # the copy owns it now: its EOF is the FIFO's
            write_atomic(o.pid_path, f"{os.getpid()}".encode())
            self.server.listen(o.socket_path)
        except BaseException:
            # Nobody could ever reach this container: do not leave it behind.
            try:
                runtime.delete(self.rt, o.id, force=True)
            except RuntimeFailure:
                pass
            raise
        return self.init.pid

    def serve(self) -> None:
        """Run until the container is deleted."""
        self.reaper.reap()  # anything that ended before the handler was in place
        while not self.deleted:
            timeout = self.reaper.timeout()
            if self._oom_recheck_until is not None:
                timeout = _OOM_RECHECK if timeout is None else min(timeout, _OOM_RECHECK)
            for key, _ in self.sel.select(timeout):
                if self.sel.get_map().get(key.fd) is not key:
                    continue  # unregistered (or its fd reused) by an earlier callback of this batch
                key.data()
                if self.deleted:
                    break
            self.reaper.on_timeout()
            if self._oom_recheck_until is not None:
                self._check_oom()

    def _on_sigchld(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        self.reaper.reap()

    def _on_oom(self) -> None:
        """The kernel says the memory cgroup is out of memory: a kill is counted now or very soon.

        v1 signals before the OOM killer has chosen and counted its victim, so an
        unchanged count is looked at again for a moment (the loop's timeout).
        """
        assert self._oom_fd is not None
        cgroup.drain(self._oom_fd)
        self._oom_recheck_until = time.monotonic() + _OOM_RECHECK_FOR
        self._check_oom()

    def _check_oom(self) -> None:
        count = cgroup.oom_kills(self.cgroup)
        if count <= self._oom_seen:
            if self._oom_recheck_until is not None and time.monotonic() > self._oom_recheck_until:
                self._oom_recheck_until = None
            return
        self._oom_seen, self._oom_recheck_until = count, None
        if self.oom_watchers:
            self._tell_oom()

    def unreported_oom(self) -> Answer | None:
        """The OOM event a watcher has not heard yet (it was away when it happened), if any."""
        if self._oom_told >= self._oom_seen:
            return None
        self._oom_told = self._oom_seen
        return {"event": "oom", "oom_kills": self._oom_seen - self._oom_base}

    def _tell_oom(self) -> None:
        assert self.init is not None
        answer = self.unreported_oom()
        if answer is None:
            return  # nothing new: the watchers keep waiting
        watchers, self.oom_watchers = self.oom_watchers, []
        for conn in watchers:
            if conn in self.init.waiters:
                self.init.waiters.remove(conn)
                self.server.resume(conn, answer)

    def _handle(self, conn: Conn, req: Request) -> Answer | None:
        return handlers.handle(self, conn, req)

    def _exit_final(self, proc: Proc) -> None:
        """The exit is final: persist it (init), then answer the waiters."""
        if self._oom_fd is not None:
            self._check_oom()  # a process killed for memory: its oom goes out before its exit
        if proc is self.init:
            # The cgroup outlives the init until the runtime's delete: its count is final now.
            final = cgroup.oom_kills(self.cgroup)
            self.oom_killed = final > self._oom_base
            self._oom_seen = max(self._oom_seen, final)
            self.oom_watchers = []
            write_json_atomic(self.options.exit_path,
                              {"exit_status": proc.exit_status, "exited_at": proc.exited_at,
                               "oom_killed": self.oom_killed})
            if proc.stdin_fd >= 0:
                os.close(proc.stdin_fd)
                proc.stdin_fd = -1
            self._close_stdin_copy()
        elif proc.stdin_copy is not None:
            proc.stdin_copy.close()
            proc.stdin_copy = None
        answer = self.proc_state(proc)
        waiters, proc.waiters = proc.waiters, []
        for conn in waiters:
            self.server.resume(conn, answer)

    # ----------------------------------------------------------------- state

    def status(self) -> str:
        assert self.init is not None
        if self.init.finished:
            return "stopped"
        if self.paused:
            return "paused"
        return "running" if self.started_at else "created"

    def state(self) -> dict[str, Any]:
        assert self.init is not None
        stopped = self.init.finished
        return {"id": self.options.id, "pid": self.init.pid, "status": self.status(),
                "exit_status": self.init.exit_status if stopped else 0,
                "started_at": self.started_at, "exited_at": self.init.exited_at if stopped else "",
                "oom_killed": self.oom_killed,
                # a watcher heard of every kill live: the exit need not repeat it
                "oom_reported": self.oom_killed and self._oom_told >= self._oom_seen}

    def proc_state(self, proc: Proc) -> dict[str, Any]:
        if proc is self.init:
            return self.state()
        exec_id = next(k for k, v in self.execs.items() if v is proc)
        return {"id": self.options.id, "exec_id": exec_id, "pid": proc.pid,
                "status": "stopped" if proc.finished else "running",
                "exit_status": proc.exit_status if proc.finished else 0,
                "exited_at": proc.exited_at if proc.finished else ""}

    # --------------------------------------------------------------- the end

    def _close_stdin_copy(self) -> None:
        if self.stdin_copy is not None:
            self.stdin_copy.close()
            self.stdin_copy = None

    def remove_files(self) -> None:
        for path in (self.options.socket_path, self.options.pid_path,
                     os.path.join(self.options.bundle, "init.pid")):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def close(self) -> None:
        """After delete: nothing of this shim stays behind but exit.json (the bundle's owner removes it)."""
        self.remove_files()
        self._close_stdin_copy()
        if self._oom_fd is not None:
            self.sel.unregister(self._oom_fd)
            os.close(self._oom_fd)
            self._oom_fd = None
        for proc in self.execs.values():
            if proc.stdin_copy is not None:
                proc.stdin_copy.close()
        self.reaper.close()
