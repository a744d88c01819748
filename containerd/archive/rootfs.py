"""Where a container's files are, for docker cp and export, whether it runs or not.

A container with a task has its snapshot mounted at the task's <bundle>/rootfs (in
berth-containerd's own mount namespace, without the container's volumes and binds: those
are bound on a private view of it, view.py). One without a task gets its
snapshot mounted here for the length of the operation, under <state>/archive/<id>;
the mount is shared by concurrent operations and holds the id busy, so that a task is
not created on the same upper directory meanwhile (its create is refused until then).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import TYPE_CHECKING, Iterator

from ..errors import FailedPrecondition
from ..snapshots.mounts import is_mountpoint, mount, unmount
from .view import Bind, open_view

if TYPE_CHECKING:
    from ..runtime.tasks import TaskService

log = logging.getLogger("berth.containerd.archive")


class RootfsViews:
    def __init__(self, tasks: TaskService, state: str) -> None:
        self.tasks = tasks
        self.dir = os.path.join(state, "archive")
        self._lock = threading.Lock()
        self._views: dict[str, int] = {}  # id -> users of its temporary mount
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        for name in os.listdir(self.dir):  # what a killed berth-containerd left mounted
            self._drop(os.path.join(self.dir, name))

    @contextlib.contextmanager
    def open(self, cid: str, binds: list[Bind] | None = None) -> Iterator[int]:
        """An O_PATH fd of the container's root directory (with `binds` made on it, in a
        view of its own: view.py), for as long as the block runs."""
        record = self.tasks.containers.get(cid)  # NotFound for an unknown container
        path = self._task_rootfs(cid)
        temporary = path is None
        if temporary:
            path = self._acquire(cid, record.snapshot)
        try:
            view = open_view(path, binds or [])
            try:
                yield view.root
            finally:
                view.close()
        finally:
            if temporary:
                self._release(cid)

    def _task_rootfs(self, cid: str) -> str | None:
        svc = self.tasks
        with svc._lock:
            task = svc._tasks.get(cid)
            if task is None:
                return None
        rootfs = os.path.join(task.bundle, "rootfs")
        if not is_mountpoint(rootfs):
            raise FailedPrecondition(f"container {cid}: its task's rootfs is not mounted")
        return rootfs

    def _acquire(self, cid: str, snapshot: str) -> str:
        svc = self.tasks
        path = os.path.join(self.dir, cid)
        with self._lock:
            users = self._views.get(cid, 0)
            if users == 0:
                with svc._lock:
                    if cid in svc._tasks or cid in svc._busy:
                        raise FailedPrecondition(f"container {cid}: another operation is in progress")
                    svc._busy.add(cid)  # a task create waits for us: not two mounts of one upper dir
                try:
                    os.makedirs(path, mode=0o700, exist_ok=True)
                    for m in svc.snapshots.mounts(snapshot):
                        mount(m, path)
                except BaseException:
                    self._drop(path)
                    svc._release(cid)
                    raise
            self._views[cid] = users + 1
        return path

    def _release(self, cid: str) -> None:
        with self._lock:
            users = self._views.pop(cid) - 1
            if users:
                self._views[cid] = users
                return
            self._drop(os.path.join(self.dir, cid))
            self.tasks._release(cid)

    @staticmethod
    def _drop(path: str) -> None:
        try:
            if is_mountpoint(path):
                unmount(path)
            os.rmdir(path)
        except OSError as e:
            log.warning("archive mount %s: %s", path, e)
