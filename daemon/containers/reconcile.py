"""Bringing berthd's records and berth-containerd's state together, at start and after
every reconnect: whatever either daemon was doing when it died, the result is the
old state or the new one.

Per record, under the container's lock (so a create, start or remove in flight
finishes first, and the task is looked up afresh after it):

| berthd's record     | containerd's task      | now                                       |
|---------------------|------------------------|-------------------------------------------|
| removing            | any                    | finish the removal                        |
| not running         | running                | adopt it (a start whose answer was lost)  |
| running             | stopped or none        | record the exit                           |
| not running         | created or stopped     | drop the task (a start that did not end)  |
| created, never ran, | (no container at all)  | at start only: forget it (a create that   |
|   and at start      |                        |   never reached containerd)               |

A container containerd holds that no record names (its create was answered with
an error, or with nothing, but committed) cannot be adopted: berthd has no config
for it. It is removed with its task and snapshot. A create in flight is never
taken for one: its record is reserved before containerd is asked.

AutoRemove: at start every container that does not run is removed, as dockerd's
restore does; after a reconnect, those that exited, or whose start failed, while
the removal could not be done.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from berth.common.timefmt import ZERO_TIME, rfc3339_nano

from ..http.errors import ApiError
from ..libcontainerd import ContainerdError, Task
from . import namespaces
from .store import Container, State

if TYPE_CHECKING:
    from .service import Engine

log = logging.getLogger("berthd.engine")

NAME_LABEL = "berth.name"  # every container berthd creates carries it


async def run(engine: "Engine", startup: bool = False) -> None:
    """`startup`: berthd is starting and serves no request yet."""
    in_containerd = {x.id: x for x in await engine.ctrd.list_containers()}
    records = list(engine.store.by_id.values())  # no await since the list: the same moment
    for c in records:
        try:
            await _one(engine, c, c.id in in_containerd, startup)
        except ApiError as e:  # one container's trouble does not stop the others
            log.warning("reconcile %s: %s", c.id, e.message)
    known = {c.id for c in records}
    for x in in_containerd.values():
        # A record exists from before its containerd container does until after it is
        # gone; one that went since the list was a removal (or a failed create, which
        # undoes itself), not an orphan.
        if x.id not in known and x.id not in engine.store.by_id and NAME_LABEL in x.labels:
            await _remove_orphan(engine, x.id)


async def _one(engine: "Engine", c: Container, in_containerd: bool, startup: bool) -> None:
    async with engine.waiters(c.id).lock:
        if engine.store.by_id.get(c.id) is not c:
            return  # removed meanwhile
        task = await _task(engine, c.id)
        if c.state.status == "removing":
            if await engine._remove_locked(c, drop_task=task is not None):
                engine._removed(c.id)
            return
        task_left = task is not None
        if task is not None and task.status in ("running", "paused"):
            _adopt(engine, c, task)
            return
        namespaces.stopped(engine.config, c.id)  # the pins of a start that died midway
        if c.state.running:
            left = await engine._record_exit(c)
            if left is None:
                return
            task_left = left
        elif task is not None:
            engine.stdin.close(c.id)
            task_left = not await engine._drop_task(c.id)
        elif startup and not in_containerd and c.state.status == "created" and c.state.started_at == ZERO_TIME:
            log.info("container %s: its create never reached berth-containerd; forgetting it", c.id)
            engine.store.forget(c)
            engine._removed(c.id)
            return
    if c.host_config.get("AutoRemove") and _remove_now(c, startup):
        await engine._auto_remove(c, drop_task=task_left)


def _adopt(engine: "Engine", c: Container, task: Task) -> None:
    if not c.state.running or c.state.pid != task.pid:
        # started, but the answer was lost (a daemon died in start): the new state
        c.state = State(status="running", pid=task.pid, started_at=task.started_at or rfc3339_nano(),
                        finished_at=c.state.finished_at)
        engine.store.save(c)
    if c.state.paused != (task.status == "paused"):  # paused or thawed while berthd was away
        c.state.paused = task.status == "paused"
        engine.store.save(c)
    if c.config.get("OpenStdin"):
        engine.stdin.adopt(c.id)  # a restarted berthd writes to the same FIFO


def _remove_now(c: Container, startup: bool) -> bool:
    if c.state.running:
        return False
    # After a reconnect a created container may be about to be started (`run --rm`
    # is create, then start): only one whose start has failed is done with.
    return startup or c.state.status == "exited" or (c.state.status == "created" and bool(c.state.error))


async def _task(engine: "Engine", cid: str) -> Task | None:
    try:
        return await engine.ctrd.get_task(cid)
    except ContainerdError as e:
        if e.not_found:
            return None
        raise


async def _remove_orphan(engine: "Engine", cid: str) -> None:
    log.info("container %s: in berth-containerd but unknown to berthd; removing it", cid)
    try:
        try:
            await engine.ctrd.delete_task(cid, force=True, timeout=15)
        except ContainerdError as e:
            if not e.not_found:
                raise
        await engine.ctrd.delete_container(cid)
    except ContainerdError as e:
        if not e.not_found:
            log.warning("container %s: removing it from berth-containerd: %s", cid, e.message)
    engine.stdin.close(cid)
