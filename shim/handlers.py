"""The ops of the shim's protocol: one function per op, each given the shim and the request.

Each answers a dict, raises protocol.RequestError (its code tells the caller why),
or returns None when the answer comes later (wait) or was already sent (delete).
"""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import termios
from collections.abc import Callable
from typing import TYPE_CHECKING

from berth.common.timefmt import rfc3339_nano
from berth.shim import cgroup, execops, runtime
from berth.shim.process import Proc
from berth.shim.protocol import Answer, Request, RequestError
from berth.shim.runtime import RuntimeFailure
from berth.shim.server import Conn

if TYPE_CHECKING:
    from berth.shim.service import Shim

Handler = Callable[["Shim", Conn, Request], "Answer | None"]


def handle(shim: Shim, conn: Conn, req: Request) -> Answer | None:
    op = req.get("op")
    handler = HANDLERS.get(op) if isinstance(op, str) else None
    if handler is None:
        raise RequestError(f"unknown op {op!r}", "invalid")
    return handler(shim, conn, req)


def _target(shim: Shim, req: Request) -> Proc:
    """The process a request addresses: an exec by its exec_id, else the container's init."""
    exec_id = req.get("exec_id")
    if exec_id:
        if exec_id not in shim.execs:
            raise RequestError(f"exec {exec_id} not found", "not_found")
        return shim.execs[exec_id]
    assert shim.init is not None
    return shim.init


def op_state(shim: Shim, conn: Conn, req: Request) -> Answer:
    return shim.proc_state(_target(shim, req))


def op_start(shim: Shim, conn: Conn, req: Request) -> Answer:
    status = shim.status()
    if status != "created":
        raise RequestError(f"cannot start a container that is {status}", "failed_precondition")
    try:
        runtime.start(shim.rt, shim.options.id)
    except RuntimeFailure as e:
        raise RequestError(str(e), "internal") from None
    shim.started_at = rfc3339_nano()
    return shim.state()


def op_kill(shim: Shim, conn: Conn, req: Request) -> Answer:
    sig = req.get("signal", signal.SIGTERM)
    if not isinstance(sig, int) or not 0 < sig < 65:
        raise RequestError(f"invalid signal {sig!r}", "invalid")
    proc = _target(shim, req)
    # An exited process not reaped yet would take the kill(2) below (a zombie does) and
    # the kill would "succeed": reaped now, it is not running, as runc's kill says.
    shim.reaper.reap()
    if proc.exit_status is not None:
        raise RequestError("process already finished", "not_found")
    if proc is not shim.init or not req.get("all", False):
        # an exec is our child and the init is reparented to us (we are its subreaper):
        # until we reap it its pid cannot have been reused, so no runtime child is
        # needed (runc's kill is this same kill(2) of the state's pid). runc 1.1 also
        # thaws a paused container on SIGKILL (v1's freezer holds a kill until then);
        # not done here: berthd's kill resumes a paused container after any signal
        # (daemon/containers/pause.thaw_after_signal), as moby does.
        os.kill(proc.pid, sig)
        return {}
    try:
        runtime.kill(shim.rt, shim.options.id, sig, all=True)
    except RuntimeFailure as e:
        shim.reaper.reap()
        if proc.exit_status is not None:
            raise RequestError("process already finished", "not_found") from None
        raise RequestError(str(e), "internal") from None
    return {}


def op_wait(shim: Shim, conn: Conn, req: Request) -> Answer | None:
    """Answer when the process has exited; with "oom" (the init only), also at an OOM kill."""
    proc = _target(shim, req)
    if proc.finished:
        return shim.proc_state(proc)
    watch_oom = bool(req.get("oom")) and proc is shim.init
    if watch_oom and (missed := shim.unreported_oom()) is not None:
        return missed
    conn.busy = True  # answered by Shim's exit callback (or an OOM kill), through Server.resume
    proc.waiters.append(conn)
    if watch_oom:
        shim.oom_watchers.append(conn)
    return None


def op_pids(shim: Shim, conn: Conn, req: Request) -> Answer:
    if shim.status() == "stopped":
        return {"pids": []}
    try:
        return {"pids": runtime.ps(shim.rt, shim.options.id)}
    except RuntimeFailure as e:
        raise RequestError(str(e), "internal") from None


def op_delete(shim: Shim, conn: Conn, req: Request) -> None:
    """Delete the container, answer the final state, and end the loop (the shim exits)."""
    assert shim.init is not None
    force = bool(req.get("force", False))
    if shim.status() in ("running", "paused") and not force:
        raise RequestError(f"cannot delete running task {shim.options.id}", "failed_precondition")
    try:
        runtime.delete(shim.rt, shim.options.id, force=shim.status() != "stopped")
    except RuntimeFailure as e:
        if "not exist" not in str(e):
            raise RequestError(str(e), "internal") from None
    shim.reaper.reap()
    shim.reaper.wait_for(shim.init)
    shim.reaper.finish_all()
    shim.remove_files()  # before answering: whoever hears "deleted" finds them gone
    shim.server.send(conn, shim.state())
    shim.deleted = True


def op_resize(shim: Shim, conn: Conn, req: Request) -> Answer:
    """TIOCSWINSZ on the pty master; the kernel sends SIGWINCH to the foreground group.

    A process without a terminal (or whose terminal is gone) ignores it, as
    containerd's shim does, so a racing resize after exit is no error.
    """
    width, height = req.get("width"), req.get("height")
    if not all(isinstance(v, int) and 0 <= v < 65536 for v in (width, height)):
        raise RequestError("resize needs integer width and height", "invalid")
    proc = _target(shim, req)
    if proc.console_fd >= 0 and proc.console_fd in proc.outputs:
        fcntl.ioctl(proc.console_fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    return {}


def op_stats(shim: Shim, conn: Conn, req: Request) -> Answer:
    """The container's cgroup statistics (runc's `events --stats` data)."""
    if shim.status() == "stopped":
        raise RequestError(f"container {shim.options.id} is not running", "failed_precondition")
    try:
        return {"stats": cgroup.stats(shim.cgroup), "timestamp": rfc3339_nano()}
    except (OSError, ValueError) as e:
        raise RequestError(f"cgroup stats: {e}", "internal") from None


def op_update(shim: Shim, conn: Conn, req: Request) -> Answer:
    """New cgroup limits (an OCI linux.resources object) through the runtime's update."""
    resources = req.get("resources")
    if not isinstance(resources, dict):
        raise RequestError("update needs a resources object", "invalid")
    if shim.status() == "stopped":
        raise RequestError(f"container {shim.options.id} is not running", "failed_precondition")
    try:
        runtime.update(shim.rt, shim.options.id, resources, os.path.join(shim.options.bundle, "update.json"))
    except RuntimeFailure as e:
        raise RequestError(str(e), "internal") from None
    return {}


HANDLERS: dict[str, Handler] = {
    "state": op_state,
    "start": op_start,
    "kill": op_kill,
    "wait": op_wait,
    "pids": op_pids,
    "exec": execops.op_exec,
    "delete": op_delete,
    "resize": op_resize,
    "delete_process": execops.op_delete_process,
    "pause": execops.op_pause,
    "resume": execops.op_resume,
    "stats": op_stats,
    "update": op_update,
}
