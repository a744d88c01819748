"""docker pause / unpause: the runtime's freezer, through berth-containerd's Pause and
Resume. A paused container is still running (State.Running and State.Paused, Status
"paused"); exec and attach refuse it, kill and stop thaw it after their signal so that
the signal is delivered, as dockerd does."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..http.errors import ApiError, conflict
from ..libcontainerd import ContainerdError
from .store import Container

if TYPE_CHECKING:
    from .service import Engine

log = logging.getLogger("berthd.engine")


async def pause(engine: Engine, c: Container) -> None:
    async with engine.waiters(c.id).lock:
        if not c.state.running:
            raise conflict(f"Container {c.id} is not running")
        if c.state.paused:
            raise conflict(f"Container {c.id} is already paused")
        try:
            await engine.ctrd.pause_task(c.id)
        except ContainerdError as e:
            raise ApiError(e.status, f"Cannot pause container {c.id}: {e.detail}") from None
        c.state.paused = True
        engine.store.save(c)
    engine.events.container(c, "pause")


async def unpause(engine: Engine, c: Container) -> None:
    async with engine.waiters(c.id).lock:
        if not c.state.paused or not c.state.running:
            raise conflict(f"Container {c.id} is not paused")
        try:
            await engine.ctrd.resume_task(c.id)
        except ContainerdError as e:
            raise ApiError(e.status, f"Cannot unpause container {c.id}: {e.detail}") from None
        c.state.paused = False
        engine.store.save(c)
    engine.events.container(c, "unpause")


async def thaw_after_signal(engine: Engine, c: Container) -> None:
    """A signal sent to a frozen container is delivered once it is thawed (moby's kill)."""
    if not c.state.paused:
        return
    try:
        await engine.ctrd.resume_task(c.id)
    except ContainerdError as e:
        log.warning("container %s: cannot unpause after kill: %s", c.id, e.message)
        return
    c.state.paused = False
    engine.store.save(c)
    engine.events.container(c, "unpause")


def refuse_attach(c: Container, ref: str) -> None:
    if c.state.running and c.state.paused:
        raise conflict(f"container {ref} is paused, unpause the container before attach")
