"""A task's other processes (exec) and its freezer (pause/resume): requests on its shim.

The exec'd process inherits what the daemon does not set from the container's own
process; only its user is resolved here, against the container's /etc/passwd and
/etc/group (only berth-containerd reads the container's files), or taken from the
container's process when none is asked for.

berthd sends an exec's Wait together with its Exec, not after its answer (that hop and
the shim's connection were ~1.4 ms of every `docker exec`): a Wait for an exec id whose
Exec is under way here is held until the exec's request is with the shim, or ends with
the Exec's error (wait_process). A Wait for an exec nobody started is not found, as
containerd's, ~50 ms later.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any, Callable

from ..containers import users
from ..errors import BerthError, Internal, InvalidArgument, NotFound

if TYPE_CHECKING:
    from .tasks import TaskService, TaskState


class _Starting:
    """An Exec under way: when its request is with the shim, and its outcome."""

    __slots__ = ("sent", "done", "error")

    def __init__(self) -> None:
        self.sent = threading.Event()  # a wait the shim reads now is read after the exec
        self.done = threading.Event()
        self.error: BaseException | None = None


_starting: dict[tuple[str, str], _Starting] = {}  # (task id, exec id): exec ids are unique per task
_registered = threading.Condition()  # guards _starting; told at each Exec's start
# how long a Wait for an exec unknown to the shim and to us waits for its Exec to show up
# (sent together, the Wait's thread may start first): only such a Wait pays it
_OVERTAKE = 0.05


def exec_process(svc: TaskService, tid: str, exec_id: str, process: bytes, log_path: str,
                 stdin_path: str = "", user: str = "") -> int:
    key, start = (tid, exec_id), _Starting()
    with _registered:  # first of all: its Wait may be on its way here too
        owner = bool(exec_id) and _starting.setdefault(key, start) is start  # a second Exec: not ours
        _registered.notify_all()
    try:
        return _exec(svc, tid, exec_id, process, log_path, stdin_path, user, start.sent.set)
    except BaseException as e:
        start.error = e
        raise
    finally:
        if owner:
            with _registered:
                del _starting[key]
            start.sent.set()
            start.done.set()


def wait_process(svc: TaskService, tid: str, exec_id: str) -> TaskState:
    """Until the exec has exited. One whose Exec is under way goes to the shim as soon as
    the exec's request is there: the shim, busy with the exec, reads it right after (and
    answers it at once for an exec that is over). A not found from the shim is the exec
    not known yet: this Wait's thread ran ahead of its Exec's (then it waits a moment for
    that Exec to show up, and goes again once its request is there), or the shim read it
    first (then it waits for the Exec's outcome, and ends with its error or goes again)."""
    key = (tid, exec_id)
    with _registered:
        start = _starting.get(key)
    if start is None:
        try:
            return svc.wait(tid, exec_id)
        except NotFound:
            with _registered:
                _registered.wait_for(lambda: key in _starting, timeout=_OVERTAKE)
                start = _starting.get(key)
            if start is None:
                return svc.wait(tid, exec_id)  # unknown (not found), or its Exec is over by now
    start.sent.wait()
    try:
        return svc.wait(tid, exec_id)
    except NotFound:
        start.done.wait()  # an Exec ends: its shim request has a deadline
    if (err := start.error) is not None:  # the same error, as a new exception of this thread's
        raise (type(err)(*err.args) if isinstance(err, BerthError) else Internal(f"exec: {err}")) from None
    return svc.wait(tid, exec_id)


def _exec(svc: TaskService, tid: str, exec_id: str, process: bytes, log_path: str,
          stdin_path: str, user: str, sent: Callable[[], None]) -> int:
    task = svc._task(tid)
    try:
        proc = json.loads(process)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"exec: process is not valid JSON: {e}") from None
    if not exec_id:
        raise InvalidArgument("exec: exec_id is empty")
    if not isinstance(proc, dict):
        raise InvalidArgument("exec: process must be a JSON object")
    proc["user"] = _user(svc, tid, user)
    request: dict[str, Any] = {"op": "exec", "exec_id": exec_id, "process": proc, "log_path": log_path}
    if stdin_path:
        request["stdin_path"] = stdin_path
    return int(svc._shim(task, request, sent=sent).get("pid", 0))


def _user(svc: TaskService, tid: str, user: str) -> dict[str, Any]:
    record = svc.containers.get(tid)
    if user:
        return users.resolve(user, lambda path: svc.snapshots.read_file(record.snapshot, path),
                             users.group_add(json.loads(record.spec)))
    own = (json.loads(record.spec).get("process") or {}).get("user")
    return own if isinstance(own, dict) else {"uid": 0, "gid": 0}


def delete_process(svc: TaskService, tid: str, exec_id: str) -> TaskState:
    from .tasks import _to_state

    return _to_state(tid, svc._shim(svc._task(tid), {"op": "delete_process", "exec_id": exec_id}))


def pause(svc: TaskService, tid: str) -> TaskState:
    from .tasks import _to_state

    state = _to_state(tid, svc._shim(svc._task(tid), {"op": "pause"}))
    svc.events.publish("/tasks/paused", tid, pid=state.pid)
    return state


def resume(svc: TaskService, tid: str) -> TaskState:
    from .tasks import _to_state

    state = _to_state(tid, svc._shim(svc._task(tid), {"op": "resume"}))
    svc.events.publish("/tasks/resumed", tid, pid=state.pid)
    return state
