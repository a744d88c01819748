"""What a container's writable layer holds, as dockerd reports it: SizeRw and
SizeRootFs (`?size=1` on the container list and inspect, /system/df) and the change
list of GET /containers/{id}/changes (`docker diff`).

berth-containerd measures the layer (libcontainerd/layers.py); SizeRootFs is SizeRw
plus the image's size, as dockerd's GetContainerLayerSize adds the parent chain's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ..libcontainerd import ContainerdError
from ..libcontainerd.layers import writable_layer
from .store import Container

if TYPE_CHECKING:
    from .service import Engine

log = logging.getLogger("berth.daemon.sizes")


async def size_rw(engine: Engine, c: Container) -> int:
    """The writable layer's bytes; 0 when berth-containerd cannot say (dockerd logs and
    reports what it has, the list is not failed for one container)."""
    try:
        return (await writable_layer(engine.ctrd, c.id)).size
    except ContainerdError as e:
        log.warning("container %s: size of the writable layer: %s", c.id, e.message)
        return 0


async def sizes(engine: Engine, containers: list[Container]) -> dict[str, tuple[int, int]]:
    """id -> (SizeRw, SizeRootFs) of each container, measured side by side."""
    if not containers:
        return {}
    images = {i.id: i.size for i in await engine.ctrd.list_images()}
    rws = await asyncio.gather(*(size_rw(engine, c) for c in containers))
    return {c.id: (rw, rw + images.get(c.image, 0)) for c, rw in zip(containers, rws, strict=True)}


def add_sizes(item: dict[str, Any], measured: tuple[int, int], omit_zero: bool) -> None:
    """docker's fields; the list's are `omitempty` (a 0 is left out), inspect's are not."""
    for key, value in zip(("SizeRw", "SizeRootFs"), measured, strict=True):
        if value or not omit_zero:
            item[key] = value


async def changes(engine: Engine, c: Container) -> list[dict[str, Any]] | None:
    """docker's change list; None (JSON null) when nothing changed, as dockerd answers."""
    layer = await writable_layer(engine.ctrd, c.id, changes=True)  # its errors are API errors
    return [{"Path": path, "Kind": kind} for path, kind in layer.changes] or None
