"""Tasks: the running side of a container, one berth-shim each.

Create mounts the container's snapshot at <state>/tasks/<id>/rootfs, writes the
bundle's config.json and has the fork server start a shim; every later verb is a
request on the shim's socket. A watcher thread per task waits on the shim and
publishes /tasks/exit. The task directory is the whole record of a task, so a
restarted berth-containerd rebuilds its table from <state>/tasks and the shims.
"""

from __future__ import annotations

import json
import logging
import os
import re
import select
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from berth.common import RUNTIME_LIBRARY
from berth.common.files import write_atomic
from berth.shim import client as shim_client

from ..containers import ContainerService
from ..errors import AlreadyExists, BerthError, FailedPrecondition, Internal, InvalidArgument, NotFound
from ..events import EventBus
from berth.shim.options import ShimOptions

from . import copyup
from .forkserver import ForkServer, spawn_command
from ..metadata import ContainerRecord
from ..snapshots.mounts import is_mountpoint, mount, unmount
from ..snapshots import Snapshotter

log = logging.getLogger("berth.containerd.tasks")

_SHIM_CODES: dict[str, type[BerthError]] = {
    "not_found": NotFound, "failed_precondition": FailedPrecondition,
    "invalid": InvalidArgument, "internal": Internal,
}


@dataclass
class TaskState:
    id: str
    pid: int
    status: str  # created | running | stopped | unknown
    exit_status: int
    started_at: str
    exited_at: str
    exec_id: str = ""
    oom_killed: bool = False


@dataclass
class _Task:
    id: str
    bundle: str
    runtime: str
    runtime_root: str
    shim_pid: int = 0  # the shim unlinks shim.pid before it answers delete: keep it here
    watcher: threading.Thread | None = None
    deleting: bool = False  # set before the shim is told to go, so its hang-up is no crash

    @property
    def socket(self) -> str:
        return os.path.join(self.bundle, "shim.sock")


def runtime_name(runtime: str) -> str:
    return runtime or RUNTIME_LIBRARY


class TaskService:
    def __init__(self, state: str, containers: ContainerService, snapshots: Snapshotter,
                 events: EventBus, forkserver: ForkServer | None) -> None:
        self.dir = os.path.join(state, "tasks")
        self.runtime_dir = os.path.join(state, "runtime")
        os.makedirs(self.dir, mode=0o711, exist_ok=True)
        os.makedirs(self.runtime_dir, mode=0o700, exist_ok=True)
        self.containers = containers
        self.snapshots = snapshots
        self.events = events
        self.forkserver = forkserver
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self._busy: set[str] = set()  # ids being created or deleted

    # --------------------------------------------------------------- helpers
    def _runtime_root(self, runtime: str) -> str:
        name = runtime_name(runtime)
        tag = RUNTIME_LIBRARY if name == RUNTIME_LIBRARY else re.sub(r"[^A-Za-z0-9_.-]", "_", name.strip("/"))
        return os.path.join(self.runtime_dir, tag)

    def _task(self, tid: str) -> _Task:
        with self._lock:
            task = self._tasks.get(tid)
        if task is None:
            raise NotFound(f"task {tid}: not found")
        return task

    def _call(self, task: _Task, request: dict[str, Any], timeout: float | None = 30,
              sent: Callable[[], None] | None = None) -> dict[str, Any]:
        try:
            return shim_client.call(task.socket, request, timeout=timeout, sent=sent)
        except shim_client.ShimRequestError as e:
            raise _SHIM_CODES.get(e.code, Internal)(str(e)) from None

    def _claim(self, tid: str) -> None:
        with self._lock:
            if tid in self._busy:
                raise FailedPrecondition(f"task {tid}: another operation is in progress")
            self._busy.add(tid)

    def _release(self, tid: str) -> None:
        with self._lock:
            self._busy.discard(tid)

    # ---------------------------------------------------------------- create
    def create(self, tid: str, log_path: str, terminal: bool, stdin: bool, stdin_path: str = "",
               stdin_once: bool = False) -> TaskState:
        container = self.containers.get(tid)
        self._claim(tid)
        try:
            with self._lock:
                if tid in self._tasks:
                    raise AlreadyExists(f"task {tid}: already exists")
            bundle = os.path.join(self.dir, tid)
            if os.path.lexists(bundle):
                self._cleanup_dir(bundle, container.runtime, tid)
            os.makedirs(bundle, mode=0o711)
            try:
                state = self._create(container, bundle, log_path, terminal, stdin, stdin_path, stdin_once)
            except BaseException:
                with self._lock:
                    self._tasks.pop(tid, None)
                self._cleanup_dir(bundle, container.runtime, tid)
                raise
        finally:
            self._release(tid)
        self.events.publish("/tasks/create", tid, pid=state.pid)
        return state

    def _create(self, container: ContainerRecord, bundle: str, log_path: str,
                terminal: bool, stdin: bool, stdin_path: str, stdin_once: bool) -> TaskState:
        t0 = time.perf_counter()
        rootfs = os.path.join(bundle, "rootfs")
        os.mkdir(rootfs, 0o755)
        for m in self.snapshots.mounts(container.snapshot):
            mount(m, rootfs)
        spec = json.loads(container.spec)
        copyup.fill(spec, rootfs)  # new volumes get the image's files first
        spec.setdefault("root", {})["path"] = "rootfs"
        write_atomic(os.path.join(bundle, "config.json"), json.dumps(spec).encode(), 0o600)
        runtime_root = self._runtime_root(container.runtime)
        os.makedirs(runtime_root, mode=0o700, exist_ok=True)
        req = ShimOptions(container.id, bundle, runtime_name(container.runtime), runtime_root,
                         log_path, terminal, stdin or bool(stdin_path), stdin_path, stdin_once)
        t1 = time.perf_counter()
        spawned = self.forkserver.spawn(req) if self.forkserver else spawn_command(req)
        t2 = time.perf_counter()
        task = _Task(container.id, bundle, req.runtime, runtime_root, spawned.pid)
        with self._lock:
            self._tasks[task.id] = task
        self._watch(task)
        log.debug("task %s: bundle %.1f ms, shim+runtime create %.1f ms", task.id,
                  (t1 - t0) * 1e3, (t2 - t1) * 1e3)
        # spawn answers once the runtime's create succeeded: the init waits on its exec fifo
        return TaskState(task.id, spawned.container_pid, "created", 0, "", "")

    # ----------------------------------------------------------------- verbs
    def _state(self, task: _Task) -> TaskState:
        try:
            return _to_state(task.id, self._call(task, {"op": "state"}))
        except shim_client.ShimGone:
            return self._gone_state(task)

    def _gone_state(self, task: _Task) -> TaskState:
        """A shim that vanished without delete: its exit.json, or 255 as containerd reports."""
        try:
            with open(os.path.join(task.bundle, "exit.json")) as f:
                rec = json.load(f)
            return TaskState(task.id, 0, "stopped", int(rec.get("exit_status", 255)), "", rec.get("exited_at", ""),
                             oom_killed=bool(rec.get("oom_killed")))
        except (OSError, ValueError):
            return TaskState(task.id, 0, "stopped", 255, "", "")

    def get(self, tid: str, exec_id: str = "") -> TaskState:
        task = self._task(tid)
        if exec_id:
            return _to_state(tid, self._shim(task, {"op": "state", "exec_id": exec_id}))
        return self._state(task)

    def list(self) -> list[TaskState]:
        with self._lock:
            tasks = list(self._tasks.values())
        return [self._state(t) for t in tasks]

    def has_task(self, tid: str) -> bool:
        with self._lock:
            return tid in self._tasks or tid in self._busy

    def start(self, tid: str) -> TaskState:
        task = self._task(tid)
        state = _to_state(tid, self._shim(task, {"op": "start"}))
        self.events.publish("/tasks/start", tid, pid=state.pid)
        return state

    def kill(self, tid: str, sig: int, all: bool, exec_id: str = "") -> None:
        task = self._task(tid)
        if sig <= 0 or sig >= 65:
            raise InvalidArgument(f"invalid signal {sig}")
        req: dict[str, Any] = {"op": "kill", "signal": sig, "all": all}
        if exec_id:
            req["exec_id"] = exec_id
        self._shim(task, req)

    def wait(self, tid: str, exec_id: str = "") -> TaskState:
        task = self._task(tid)
        if exec_id:
            return _to_state(tid, self._shim_wait(task, {"op": "wait", "exec_id": exec_id}))
        try:
            return _to_state(tid, self._call(task, {"op": "wait"}, timeout=None))
        except shim_client.ShimGone:
            return self._gone_state(task)

    def pids(self, tid: str) -> list[int]:
        return [int(p) for p in self._shim(self._task(tid), {"op": "pids"}).get("pids", [])]

    def exec(self, tid: str, exec_id: str, process: bytes, log_path: str, stdin_path: str = "",
             user: str = "") -> int:
        from .execs import exec_process

        return exec_process(self, tid, exec_id, process, log_path, stdin_path, user)

    def resize_pty(self, tid: str, width: int, height: int, exec_id: str = "") -> None:
        """The terminal's window size; the shim ignores it for a task without a terminal."""
        req: dict[str, Any] = {"op": "resize", "width": width, "height": height}
        if exec_id:
            req["exec_id"] = exec_id
        self._shim(self._task(tid), req)

    def shim_request(self, tid: str, request: dict[str, Any]) -> dict[str, Any]:
        """One request to a task's shim (runtime/cgroups.py: stats, update)."""
        return self._shim(self._task(tid), request)

    def _shim(self, task: _Task, request: dict[str, Any], sent: Callable[[], None] | None = None) -> dict[str, Any]:
        try:
            return self._call(task, request, sent=sent)
        except shim_client.ShimGone as e:
            raise FailedPrecondition(f"task {task.id}: {e}") from None

    def _shim_wait(self, task: _Task, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._call(task, request, timeout=None)
        except shim_client.ShimGone as e:
            raise FailedPrecondition(f"task {task.id}: {e}") from None

    # ---------------------------------------------------------------- delete
    def delete(self, tid: str, force: bool) -> TaskState:
        task = self._task(tid)
        self._claim(tid)
        try:
            state = self._state(task)
            if state.status != "stopped" and not force:
                raise FailedPrecondition(f"task {tid} must be stopped before deletion: {state.status}")
            shim_gone = False
            task.deleting = True
            try:
                if state.status != "stopped":
                    self._call(task, {"op": "kill", "signal": signal.SIGKILL, "all": True})
                    self._call(task, {"op": "wait"}, timeout=None)
                final = _to_state(tid, self._call(task, {"op": "delete"}))
            except shim_client.ShimGone:
                # died without delete: what it held (runtime state, cgroup) is ours to undo
                final, shim_gone = self._gone_state(task), True
            _wait_gone(task.shim_pid)
            if task.watcher:
                task.watcher.join(timeout=5)  # its /tasks/exit goes out before our /tasks/delete
            with self._lock:
                self._tasks.pop(tid, None)
            self._cleanup_dir(task.bundle, task.runtime, tid, runtime_delete=shim_gone)
        finally:
            self._release(tid)
        self.events.publish("/tasks/delete", tid, pid=final.pid, exit_status=final.exit_status)
        return final

    def _cleanup_dir(self, bundle: str, runtime: str, tid: str, runtime_delete: bool = True) -> None:
        """Undo a task directory whose shim is gone: runtime state, mount, files."""
        if runtime_delete:
            _runtime_force_delete(runtime_name(runtime), self._runtime_root(runtime), tid)
        rootfs = os.path.join(bundle, "rootfs")
        if os.path.isdir(rootfs) and is_mountpoint(rootfs):
            unmount(rootfs)
        shutil.rmtree(bundle, ignore_errors=True)

    # ---------------------------------------------------- watching, restart
    def _watch(self, task: _Task) -> None:
        task.watcher = threading.Thread(target=self._watcher, args=(task,), name=f"watch-{task.id[:12]}", daemon=True)
        task.watcher.start()

    def _watcher(self, task: _Task) -> None:
        try:  # the shim also answers this wait at each OOM kill: containerd's TaskOOM
            while (answer := shim_client.call(task.socket, {"op": "wait", "oom": True}, timeout=None)
                   ).get("event") == "oom":
                self.events.publish("/tasks/oom", task.id)
            state = _to_state(task.id, answer)
        except shim_client.ShimGone:
            if task.deleting:
                return
            # the shim died under its container: report the task ended, as containerd does
            state, answer = self._gone_state(task), {}
        except (shim_client.ShimRequestError, OSError, ValueError):
            return
        if state.oom_killed and not answer.get("oom_reported"):  # before the exit, as containerd's
            self.events.publish("/tasks/oom", task.id, pid=state.pid)
        self.events.publish("/tasks/exit", task.id, pid=state.pid, exit_status=state.exit_status)

    def recover(self) -> None:
        """After a restart: adopt every task whose shim answers, clean up the others."""
        for tid in sorted(os.listdir(self.dir)):
            bundle = os.path.join(self.dir, tid)
            container = self.containers.meta.container(tid)
            runtime = container.runtime if container else ""
            task = _Task(tid, bundle, runtime_name(runtime), self._runtime_root(runtime), _shim_pid(bundle))
            if not _alive(task.shim_pid):
                log.info("task %s: shim gone, cleaning up", tid)
                self._cleanup_dir(bundle, runtime, tid)
                continue
            try:
                shim_client.call(task.socket, {"op": "state"}, timeout=5)
            except (shim_client.ShimGone, shim_client.ShimRequestError, OSError, ValueError) as e:
                # alive but slow or confused: cleaning up would kill a running container
                log.warning("task %s: shim %d did not answer (%s); adopting it", tid, task.shim_pid, e)
            with self._lock:
                self._tasks[tid] = task
            self._watch(task)
            log.info("task %s: reconnected", tid)


def _to_state(tid: str, answer: dict[str, Any]) -> TaskState:
    return TaskState(
        id=tid, pid=int(answer.get("pid") or 0), status=str(answer.get("status") or "unknown"),
        exit_status=int(answer.get("exit_status") or 0),
        started_at=answer.get("started_at") or "", exited_at=answer.get("exited_at") or "",
        exec_id=answer.get("exec_id") or "", oom_killed=bool(answer.get("oom_killed")),
    )


def _shim_pid(bundle: str) -> int:
    try:
        with open(os.path.join(bundle, "shim.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 0


def _wait_gone(pid: int, limit: float = 5.0) -> None:
    """After delete the shim exits on its own; give it a moment so no process outlives Delete."""
    if not pid:
        return
    try:
        fd = os.pidfd_open(pid)
    except OSError:  # already gone (or this kernel has no pidfd: nothing to wait with)
        return
    try:
        # readable once it has exited, zombie or not: no polling interval on the Delete path
        select.select([fd], [], [], limit)
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    """Running and not a zombie (PID 1 here may never reap an orphan)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _runtime_force_delete(runtime: str, root: str, tid: str) -> None:
    """Remove what a dead shim's runtime may have left (state dir, cgroup, process)."""
    if not os.path.exists(os.path.join(root, tid)):
        return
    if runtime == RUNTIME_LIBRARY:
        try:
            from berth import runc

            runc.delete(root, tid, force=True)
        except Exception as e:  # noqa: BLE001 — best effort; the state dir is what remains
            log.warning("task %s: runtime delete: %s", tid, e)
        return
    subprocess.run([runtime, "--root", root, "delete", "--force", tid],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
