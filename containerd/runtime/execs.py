"""A task's other processes (exec) and its freezer (pause/resume): requests on its shim.

The exec'd process inherits what the daemon does not set from the container's own
process; only its user is resolved here, against the container's /etc/passwd and
/etc/group (only berth-containerd reads the container's files), or taken from the
container's process when none is asked for.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from berth.common import cgroupwarm

from ..containers import users
from ..errors import InvalidArgument

if TYPE_CHECKING:
    from .tasks import TaskService, TaskState


def exec_process(svc: TaskService, tid: str, exec_id: str, process: bytes, log_path: str,
                 stdin_path: str = "", user: str = "") -> int:
    cgroupwarm.announce()  # for a caller that did not announce it earlier (berthd does)
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
    return int(svc._shim(task, request).get("pid", 0))


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
