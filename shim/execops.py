"""The ops for processes besides the init, and for freezing the container.

exec: another process in the running container (the runtime joins its namespaces,
cgroup and capabilities), with its own log and, given a FIFO, its own stdin copied
the way the init's is (EOF on the FIFO closes its stdin).  delete_process forgets a
finished one.  pause/resume: the runtime's freezer.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from berth.shim import runtime, stdin
from berth.shim.process import Proc, start_process
from berth.shim.protocol import Answer, Request, RequestError
from berth.shim.runtime import RuntimeFailure
from berth.shim.server import Conn

if TYPE_CHECKING:
    from berth.shim.service import Shim


def op_exec(shim: Shim, conn: Conn, req: Request) -> Answer:
    exec_id, process = req.get("exec_id"), req.get("process")
    if not isinstance(exec_id, str) or not exec_id or not isinstance(process, dict):
        raise RequestError("exec needs an exec_id and a process object", "invalid")
    if exec_id in shim.execs:
        raise RequestError(f"exec {exec_id} already exists", "failed_precondition")
    if shim.status() != "running":
        raise RequestError(f"cannot exec in a {shim.status()} container", "failed_precondition")
    log_path = req.get("log_path") or ""
    stdin_path = req.get("stdin_path") or ""
    # opened first: a FIFO that is not there is refused before anything runs
    fifo = stdin.open_fifo(stdin_path) if stdin_path else -1
    pid_file = os.path.join(shim.options.bundle, f"exec-{exec_id}.pid")
    process_file = os.path.join(shim.options.bundle, f"exec-{exec_id}.json")

    def launch(stdio: runtime.Stdio, console: str | None) -> int:
        return runtime.exec_process(shim.rt, shim.options.id, process, stdio, console, pid_file, process_file)

    try:
        proc = start_process(bool(process.get("terminal")), fifo >= 0, log_path, launch)
    except RuntimeFailure as e:
        if fifo >= 0:
            os.close(fifo)
        raise RequestError(str(e), "internal") from None
    finally:
        if os.path.exists(pid_file):
            os.unlink(pid_file)
    if fifo >= 0:
        proc.stdin_copy = stdin.StdinCopy(shim.sel, fifo, proc.stdin_fd)
        proc.stdin_fd = -1  # the copy owns it: its EOF is the FIFO's
    shim.execs[exec_id] = proc
    shim.reaper.track(proc)
    shim.reaper.reap()  # it may have ended already; its SIGCHLD wakeup is pending too
    return {"pid": proc.pid}


def op_delete_process(shim: Shim, conn: Conn, req: Request) -> Answer:
    """Forget a finished exec, once its caller has its exit status."""
    exec_id = req.get("exec_id")
    proc: Proc | None = shim.execs.get(exec_id) if isinstance(exec_id, str) else None
    if proc is None:
        raise RequestError(f"exec {exec_id} not found", "not_found")
    if not proc.finished:
        raise RequestError(f"exec {exec_id} is still running", "failed_precondition")
    state = shim.proc_state(proc)
    del shim.execs[exec_id]
    return state


def op_pause(shim: Shim, conn: Conn, req: Request) -> Answer:
    if shim.status() != "running":
        raise RequestError(f"cannot pause a {shim.status()} container", "failed_precondition")
    try:
        runtime.pause(shim.rt, shim.options.id)
    except RuntimeFailure as e:
        raise RequestError(str(e), "internal") from None
    shim.paused = True
    return shim.state()


def op_resume(shim: Shim, conn: Conn, req: Request) -> Answer:
    if shim.status() != "paused":
        raise RequestError(f"cannot resume a {shim.status()} container", "failed_precondition")
    try:
        runtime.resume(shim.rt, shim.options.id)
    except RuntimeFailure as e:
        raise RequestError(str(e), "internal") from None
    shim.paused = False
    return shim.state()
