"""The shim's life after spawn: create the container, then one single-threaded loop.

No threads: exec and the runtime fork, and a forking process must not run others.
The loop multiplexes (selectors) the container's output pipes, the SIGCHLD wakeup
pipe and the clients of DIR/shim.sock.  The shim is a child subreaper, so the
container's init (whose parent, runc, exits) and everything orphaned inside it is
reaped here; the init's status is written to DIR/exit.json before any waiter hears it.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import selectors
import signal
import socket
import struct
import termios
from dataclasses import dataclass, field
from typing import Any

from berth.common.files import write_atomic, write_json_atomic
from berth.common.timefmt import rfc3339_nano
from berth.shim import runtime, stdin, unixsock
from berth.shim.options import ShimOptions
from berth.shim.process import Proc, exit_code, start_process
from berth.shim.runtime import Runtime, RuntimeFailure

_READ_SIZE = 65536
# After init is reaped, how long to wait for the last output before answering waiters:
# pipes close when every holder is gone, which a process outside the container's pid
# namespace may delay forever.
_DRAIN_GRACE = 1.0


class RequestError(Exception):
    def __init__(self, message: str, code: str = "internal") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Conn:
    sock: socket.socket
    buf: bytearray = field(default_factory=bytearray)
    busy: bool = False  # a wait is pending: later requests on this connection queue up


def _set_subreaper() -> None:
    """Become the reaper of the container's init (whose parent, the runtime, exits), and be named so."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    # Forked from a warm process, the shim would show up in ps as its caller.
    libc.prctl(15, b"berth-shim", 0, 0, 0)  # PR_SET_NAME


class Shim:
    """The state of one shim and its loop; one instance per process."""

    def __init__(self, options: ShimOptions) -> None:
        self.options = options
        self.rt = Runtime(options.runtime, options.runtime_root, os.path.join(options.bundle, "log.json"))
        self.sel = selectors.DefaultSelector()
        self.init: Proc | None = None
        self.execs: dict[str, Proc] = {}
        self.by_pid: dict[int, Proc] = {}
        self.by_fd: dict[int, Proc] = {}
        self.started_at = ""
        self.drain_deadline: float | None = None
        self.listener: socket.socket | None = None
        self.deleted = False
        self.stdin_copy: stdin.StdinCopy | None = None
        self._wake_r, self._wake_w = os.pipe()

    # ------------------------------------------------------------------ setup

    def create(self) -> int:
        """Become a subreaper, create the container, listen; return the container's pid."""
        _set_subreaper()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        # A Python-level handler is what makes CPython write to the wakeup fd.
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        self.sel.register(self._wake_r, selectors.EVENT_READ, "sigchld")
        o = self.options
        pid_file = os.path.join(o.bundle, "init.pid")

        def launch(stdio: runtime.Stdio, console: str | None) -> int:
            return runtime.create(self.rt, o.id, o.bundle, stdio, console, pid_file)

        self.init = start_process(o.terminal, o.stdin, o.log_path, launch)
        self._track(self.init)
        try:
            if o.stdin_path and self.init.stdin_fd >= 0:
                fifo = stdin.open_fifo(o.stdin_path)
                if not o.stdin_once:
                    # never closed: the shim's exit is this writer's end
                    os.open(o.stdin_path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                self.stdin_copy = stdin.StdinCopy(self.sel, fifo, self.init.stdin_fd)
                self.init.stdin_fd = -1  # the copy owns it now: its EOF is the FIFO's
            write_atomic(o.pid_path, f"{os.getpid()}".encode())
            self.listener = unixsock.listen(o.socket_path)
            self.listener.setblocking(False)
            self.sel.register(self.listener, selectors.EVENT_READ, "listen")
        except BaseException:
            # Nobody could ever reach this container: do not leave it behind.
            try:
                runtime.delete(self.rt, o.id, force=True)
            except RuntimeFailure:
                pass
            raise
        return self.init.pid

    def _track(self, proc: Proc) -> None:
        self.by_pid[proc.pid] = proc
        for fd in proc.outputs:
            self.by_fd[fd] = proc
            self.sel.register(fd, selectors.EVENT_READ, "output")

    # ------------------------------------------------------------------- loop

    def serve(self) -> None:
        import time

        self._reap()  # anything that ended before the handler was in place
        while not self.deleted:
            timeout = None
            if self.drain_deadline is not None:
                timeout = max(0.0, self.drain_deadline - time.monotonic())
            for key, _ in self.sel.select(timeout):
                kind = key.data
                if kind == "sigchld":
                    self._drain_wakeups()
                    self._reap()
                elif kind == "output":
                    self._read_output(key.fd)
                elif kind == "listen":
                    self._accept()
                elif kind == stdin.READ and self.stdin_copy is not None:
                    self.stdin_copy.on_readable()
                elif kind == stdin.WRITE and self.stdin_copy is not None:
                    self.stdin_copy.on_writable()
                elif isinstance(kind, Conn):
                    self._read_conn(kind)
                if self.deleted:
                    break
            if self.drain_deadline is not None and time.monotonic() >= self.drain_deadline:
                self._finish_all()

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            proc = self.by_pid.get(pid)
            if proc is not None and proc.exit_status is None:
                # What it wrote before exiting is already in the pipes: log it first,
                # so no log line is stamped later than the exit.
                self._drain_now(proc)
                proc.exit_status = exit_code(status)
                proc.exited_at = rfc3339_nano()
                self._maybe_finish(proc)

    def _read_output(self, fd: int) -> None:
        proc = self.by_fd[fd]
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:  # EIO: a pty whose last slave holder has gone
            data = b""
        stream = proc.outputs[fd]
        if data:
            proc.log.feed(stream, data)
            return
        self._close_output(proc, fd)
        self._maybe_finish(proc)

    def _close_output(self, proc: Proc, fd: int) -> None:
        proc.log.flush(proc.outputs.pop(fd))
        self.sel.unregister(fd)
        del self.by_fd[fd]
        os.close(fd)

    def _maybe_finish(self, proc: Proc) -> None:
        import time

        if proc.exit_status is None or proc.finished:
            return
        if proc.outputs:
            if self.drain_deadline is None:
                self.drain_deadline = time.monotonic() + _DRAIN_GRACE
            return
        self._finish(proc)

    def _finish_all(self) -> None:
        """Stop waiting for output: every reaped process's exit becomes final now."""
        self.drain_deadline = None
        for proc in [self.init, *self.execs.values()]:
            if proc is not None and proc.exit_status is not None and not proc.finished:
                self._drain_now(proc)
                self._finish(proc)

    def _drain_now(self, proc: Proc) -> None:
        """Take what the pipes hold right now, without waiting for EOF."""
        for fd in list(proc.outputs):
            try:
                while data := os.read(fd, _READ_SIZE):
                    proc.log.feed(proc.outputs[fd], data)
            except (BlockingIOError, OSError):
                continue

    def _finish(self, proc: Proc) -> None:
        """The exit is final: persist it (init), then answer the waiters."""
        if proc is self.init:
            write_json_atomic(self.options.exit_path,
                              {"exit_status": proc.exit_status, "exited_at": proc.exited_at})
            if proc.stdin_fd >= 0:
                os.close(proc.stdin_fd)
                proc.stdin_fd = -1
            self._close_stdin_copy()
        proc.finished = True
        answer = self._proc_state(proc)
        waiters, proc.waiters = proc.waiters, []
        for conn in waiters:
            conn.busy = False
            self._send(conn, answer)
            self._process_buffer(conn)

    # ----------------------------------------------------------------- socket

    def _accept(self) -> None:
        assert self.listener is not None
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        conn = Conn(sock)
        self.sel.register(sock, selectors.EVENT_READ, conn)

    def _read_conn(self, conn: Conn) -> None:
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
        self._process_buffer(conn)

    def _process_buffer(self, conn: Conn) -> None:
        while not conn.busy and not self.deleted and b"\n" in conn.buf:
            line, _, rest = bytes(conn.buf).partition(b"\n")
            conn.buf = bytearray(rest)
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise RequestError("request must be a JSON object", "invalid")
                answer = self._handle(conn, request)
            except RequestError as e:
                answer = {"error": str(e), "code": e.code}
            except ValueError as e:
                answer = {"error": f"malformed request: {e}", "code": "invalid"}
            except Exception as e:  # a bug must not take the container's shim down
                answer = {"error": f"{type(e).__name__}: {e}", "code": "internal"}
            if answer is not None:
                self._send(conn, answer)

    def _send(self, conn: Conn, answer: dict[str, Any]) -> None:
        data = json.dumps(answer).encode() + b"\n"
        try:
            conn.sock.setblocking(True)
            conn.sock.settimeout(5)  # a client that does not read must not stall the shim
            conn.sock.sendall(data)
            conn.sock.setblocking(False)
        except OSError:
            self._drop(conn)

    def _drop(self, conn: Conn) -> None:
        for proc in [self.init, *self.execs.values()]:
            if proc is not None and conn in proc.waiters:
                proc.waiters.remove(conn)
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    # --------------------------------------------------------------- requests

    def _handle(self, conn: Conn, req: dict[str, Any]) -> dict[str, Any] | None:
        op = req.get("op")
        handler = _HANDLERS.get(op) if isinstance(op, str) else None
        if handler is None:
            raise RequestError(f"unknown op {op!r}", "invalid")
        return handler(self, conn, req)

    def _target(self, req: dict[str, Any]) -> Proc:
        exec_id = req.get("exec_id")
        if exec_id:
            if exec_id not in self.execs:
                raise RequestError(f"exec {exec_id} not found", "not_found")
            return self.execs[exec_id]
        assert self.init is not None
        return self.init

    def _status(self) -> str:
        assert self.init is not None
        if self.init.finished:
            return "stopped"
        return "running" if self.started_at else "created"

    def state(self) -> dict[str, Any]:
        assert self.init is not None
        stopped = self.init.finished
        return {"id": self.options.id, "pid": self.init.pid, "status": self._status(),
                "exit_status": self.init.exit_status if stopped else 0,
                "started_at": self.started_at, "exited_at": self.init.exited_at if stopped else ""}

    def _proc_state(self, proc: Proc) -> dict[str, Any]:
        if proc is self.init:
            return self.state()
        exec_id = next(k for k, v in self.execs.items() if v is proc)
        return {"id": self.options.id, "exec_id": exec_id, "pid": proc.pid,
                "status": "stopped" if proc.finished else "running",
                "exit_status": proc.exit_status if proc.finished else 0,
                "exited_at": proc.exited_at if proc.finished else ""}

    def op_state(self, conn: Conn, req: dict[str, Any]) -> dict[str, Any]:
        return self._proc_state(self._target(req))

    def op_start(self, conn: Conn, req: dict[str, Any]) -> dict[str, Any]:
        status = self._status()
        if status != "created":
            raise RequestError(f"cannot start a container that is {status}", "failed_precondition")
        try:
            runtime.start(self.rt, self.options.id)
        except RuntimeFailure as e:
            raise RequestError(str(e), "internal") from None
        self.started_at = rfc3339_nano()
        return self.state()

    def op_kill(self, conn: Conn, req: dict[str, Any]) -> dict[str, Any]:
        sig = req.get("signal", signal.SIGTERM)
        if not isinstance(sig, int) or not 0 < sig < 65:
            raise RequestError(f"invalid signal {sig!r}", "invalid")
        proc = self._target(req)
        if proc.exit_status is not None:
            raise RequestError("process already finished", "not_found")
        if proc is not self.init:
            os.kill(proc.pid, sig)  # our own child: its pid cannot have been reused yet
            return {}
        try:
            runtime.kill(self.rt, self.options.id, sig, all=bool(req.get("all", False)))
        except RuntimeFailure as e:
            self._reap()
            if proc.exit_status is not None:
                raise RequestError("process already finished", "not_found") from None
            raise RequestError(str(e), "internal") from None
        return {}

    def op_wait(self, conn: Conn, req: dict[str, Any]) -> dict[str, Any] | None:
        proc = self._target(req)
        if proc.finished:
            return self._proc_state(proc)
        conn.busy = True
        proc.waiters.append(conn)
        return None

    def op_pids(self, conn: Conn, req: dict[str, Any]) -> dict[str, Any]:
        if self._status() == "stopped":
            return {"pids": []}
        try:
            return {"pids": runtime.ps(self.rt, self.options.id)}
        except RuntimeFailure as e:
            raise RequestError(str(e), "internal") from None

    def op_exec(self, conn: Conn, req: dict[str, Any]) -> dict[str, Any]:
        exec_id, process = req.get("exec_id"), req.get("process")
        if not isinstance(exec_id, str) or not exec_id or not isinstance(process, dict):
            raise RequestError("exec needs an exec_id and a process object", "invalid")
        if exec_id in self.execs:
            raise RequestError(f"exec {exec_id} already exists", "failed_precondition")
        if self._status() != "running":
            raise RequestError(f"cannot exec in a container that is {self._status()}", "failed_precondition")
        log_path = req.get("log_path") or ""
        pid_file = os.path.join(self.options.bundle, f"exec-{exec_id}.pid")
        process_file = os.path.join(self.options.bundle, f"exec-{exec_id}.json")

        def launch(stdio: runtime.Stdio, console: str | None) -> int:
            return runtime.exec_process(self.rt, self.options.id, process, stdio, console, pid_file, process_file)

        try:
            proc = start_process(bool(process.get("terminal")), False, log_path, launch)
        except RuntimeFailure as e:
            raise RequestError(str(e), "internal") from None
        finally:
            if os.path.exists(pid_file):
                os.unlink(pid_file)
        self.execs[exec_id] = proc
        self._track(proc)
        self._reap()  # it may have ended already; its SIGCHLD wakeup is pending too
        return {"pid": proc.pid}

    def op_delete(self, conn: Conn, req: dict[str, Any]) -> dict[str, Any] | None:
        assert self.init is not None
        force = bool(req.get("force", False))
        if self._status() == "running" and not force:
            raise RequestError(f"cannot delete running task {self.options.id}", "failed_precondition")
        try:
            runtime.delete(self.rt, self.options.id, force=self._status() != "stopped")
        except RuntimeFailure as e:
            if "not exist" not in str(e):
                raise RequestError(str(e), "internal") from None
        self._reap()
        if self.init.exit_status is None:
            try:
                _, status = os.waitpid(self.init.pid, 0)
                code = exit_code(status)
            except ChildProcessError:
                # Reaped elsewhere (it should not be): a force delete is a SIGKILL.
                code = 128 + signal.SIGKILL
            self.init.exit_status, self.init.exited_at = code, rfc3339_nano()
        self._finish_all()
        self._remove_files()  # before answering: whoever hears "deleted" finds them gone
        self._send(conn, self.state())
        self.deleted = True
        return None

    def op_resize(self, conn: Conn, req: dict[str, Any]) -> dict[str, Any]:
        """TIOCSWINSZ on the pty master; the kernel sends SIGWINCH to the foreground group.

        A process without a terminal (or whose terminal is gone) ignores it, as
        containerd's shim does, so a racing resize after exit is no error.
        """
        width, height = req.get("width"), req.get("height")
        if not all(isinstance(v, int) and 0 <= v < 65536 for v in (width, height)):
            raise RequestError("resize needs integer width and height", "invalid")
        proc = self._target(req)
        if proc.console_fd >= 0 and proc.console_fd in proc.outputs:
            fcntl.ioctl(proc.console_fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        return {}

    def _close_stdin_copy(self) -> None:
        if self.stdin_copy is not None:
            self.stdin_copy.close()
            self.stdin_copy = None

    def _remove_files(self) -> None:
        for path in (self.options.socket_path, self.options.pid_path,
                     os.path.join(self.options.bundle, "init.pid")):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def close(self) -> None:
        """After delete: nothing of this shim stays behind but exit.json (the bundle's owner removes it)."""
        self._remove_files()
        self._close_stdin_copy()
        for proc in [self.init, *self.execs.values()]:
            if proc is not None:
                for fd in list(proc.outputs):
                    self._close_output(proc, fd)
                proc.log.close()
        self._reap()


_HANDLERS = {
    "state": Shim.op_state,
    "start": Shim.op_start,
    "kill": Shim.op_kill,
    "wait": Shim.op_wait,
    "pids": Shim.op_pids,
    "exec": Shim.op_exec,
    "delete": Shim.op_delete,
    "resize": Shim.op_resize,
}
