"""The task of a container whose process has ended, deleted for its exit to be recorded
(the container service's _record_exit), with its network let go at the same time."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..libcontainerd import ContainerdError, Task

if TYPE_CHECKING:
    from .service import Engine
    from .store import Container

log = logging.getLogger("berthd.engine")


async def end_task(engine: "Engine", c: "Container") -> tuple[Task, bool] | None:
    """(how the task ended, whether it is still there because its delete failed), or None
    if the exit cannot be told yet. The network is released meanwhile: the task's delete
    (the shim's runtime delete, the cgroups, the rootfs unmount) and the veths' (an RCU wait
    in the kernel) take 10-40 ms each and need nothing of each other; both are done before
    the exit is told. The process has ended (an exit event or a stopped task says so), so
    even an exit that cannot be told yet has no use for the network; a later one releases
    again, which does nothing."""
    released = asyncio.ensure_future(engine.networks.release(c.id))
    try:
        return await _delete(engine, c)
    finally:
        await released


async def _delete(engine: "Engine", c: "Container") -> tuple[Task, bool] | None:
    try:
        return await engine.ctrd.delete_task(c.id), False
    except ContainerdError as e:
        if e.not_found:
            return Task(id=c.id, pid=0, status="stopped", exit_status=255), False
        # The exit is still recorded if containerd can tell it; the task is
        # dropped by the next reconcile. Unreachable: reconcile retries all.
        log.warning("task %s: delete after exit: %s", c.id, e.message)
    try:
        task = await engine.ctrd.get_task(c.id)
    except ContainerdError as e2:
        if not e2.not_found:
            return None
        return Task(id=c.id, pid=0, status="stopped", exit_status=255), False  # deleted after all
    return (task, True) if task.status == "stopped" else None
