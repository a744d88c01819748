"""`POST /containers/{id}/update`: new limits (and RestartPolicy) for a container.

A running container gets them at once through the runtime's update (Tasks.Update); a
stopped one keeps them in its HostConfig, and they are applied when its next task is
created, before it starts (the spec in berth-containerd is the one made at create).
"""

from __future__ import annotations

from typing import Any

from ..http.errors import ApiError, bad_request
from ..libcontainerd import Containerd, ContainerdError
from . import resources, restart
from .store import Container, Store


async def update(ctrd: Containerd, store: Store, c: Container, body: dict[str, Any]) -> None:
    try:
        resources.validate(body, update=True)
        restart.validate({"RestartPolicy": body.get("RestartPolicy")})
    except ValueError as e:
        raise bad_request(str(e)) from None
    if c.state.status in ("removing", "dead"):
        raise ApiError(409, f'Cannot update container {c.id}: container is marked for removal and cannot be "update"')
    try:
        new = resources.merge_update(c.host_config, body)
    except resources.UpdateConflict as e:
        raise ApiError(409, f"Cannot update container {c.id}: {e}") from None
    changed = resources.linux_resources(body, update=True)
    if c.state.running and changed:
        try:
            await ctrd.update_task(c.id, changed)
        except ContainerdError as e:
            raise ApiError(500, f"Cannot update container {c.id}: {e.message}") from None
    elif changed:
        c.resources_pending = True
    c.host_config = new
    store.save(c)


async def apply_pending(ctrd: Containerd, store: Store, c: Container) -> None:
    """Limits changed while it was stopped: into the new task, before it starts."""
    if not c.resources_pending:
        return
    await ctrd.update_task(c.id, resources.linux_resources(c.host_config, update=True))
    c.resources_pending = False
    store.save(c)
