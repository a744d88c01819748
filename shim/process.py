"""A process the shim holds: the container's init or an exec, with its stdio and exit.

start_process makes the stdio (pipes, or a pty received over a console socket the
way runc sends it), runs the runtime verb, and keeps only the shim's ends.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from berth.shim import runtime, unixsock
from berth.shim.jsonlog import JsonLog
from berth.shim.runtime import RuntimeFailure


@dataclass
class Proc:
    """The container's init or one exec'd process, with its output and exit."""

    pid: int
    log: JsonLog
    outputs: dict[int, str] = field(default_factory=dict)  # open read fds -> stream name
    stdin_fd: int = -1  # kept open so the process does not see EOF on stdin
    console_fd: int = -1  # the pty master (terminal mode): what resize sets the size of
    exit_status: int | None = None  # set when reaped
    exited_at: str = ""
    finished: bool = False  # exit recorded and output drained: waiters may be answered
    waiters: list[Any] = field(default_factory=list)  # server.Conn awaiting the exit
    stdin_copy: Any = None  # an exec's stdin.StdinCopy from its FIFO, closed at its exit


def exit_code(wait_status: int) -> int:
    """Docker's convention: the exit code, or 128+N when killed by signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


class _ConsoleSocket:
    """A --console-socket listener: runc sends the pty master over it (SCM_RIGHTS)."""

    def __init__(self) -> None:
        # sun_path is short and the bundle may be deep: a private dir in /tmp.
        self.dir = tempfile.mkdtemp(prefix="berth-console-")
        self.path = os.path.join(self.dir, "c.sock")
        self.sock = unixsock.listen(self.path)

    def receive_master(self) -> int:
        self.sock.settimeout(10)
        conn, _ = self.sock.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        if not fds:
            raise RuntimeFailure("runtime sent no console over the console socket")
        return fds[0]

    def close(self) -> None:
        self.sock.close()
        for leftover in (self.path, self.dir):
            try:
                os.unlink(leftover) if leftover == self.path else os.rmdir(leftover)
            except FileNotFoundError:
                pass


def start_process(terminal: bool, with_stdin: bool, log_path: str,
                  launch: Callable[[runtime.Stdio, str | None], int], rotation: tuple[int, int] = (0, 1)) -> Proc:
    """Make the stdio (pipes, or a pty through a console socket), run `launch`, keep our ends.

    `launch(stdio, console_socket) -> pid` runs the runtime verb.
    """
    ours: list[int] = []
    theirs: list[int] = []
    console = _ConsoleSocket() if terminal else None
    try:
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        theirs.append(devnull)
        if terminal:
            stdio = (devnull, devnull, devnull)
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            ours += [out_r, err_r]
            theirs += [out_w, err_w]
            in_fd = devnull
            if with_stdin:
                in_fd, in_w = os.pipe()
                ours.append(in_w)
                theirs.append(in_fd)
            stdio = (in_fd, out_w, err_w)
        pid = launch(stdio, console.path if console else None)
        # Interactive output goes to the log unbuffered: attach reads it from there.
        proc = Proc(pid=pid, log=JsonLog(log_path, eager=terminal or with_stdin,
                                         max_size=rotation[0], max_file=rotation[1]))
        if console:
            master = console.receive_master()
            ours.append(master)
            proc.outputs[master] = "stdout"
            proc.console_fd = master
            if with_stdin:
                proc.stdin_fd = os.dup(master)
        else:
            proc.outputs[ours[0]] = "stdout"
            proc.outputs[ours[1]] = "stderr"
            if with_stdin:
                proc.stdin_fd = ours[2]
        for fd in proc.outputs:
            os.set_blocking(fd, False)
        return proc
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
        if console:
            console.close()
