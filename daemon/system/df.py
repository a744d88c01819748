"""`GET /system/df`: images (with how many containers use each), containers, and the
volumes (with their UsageData), and the empty build-cache list, in docker's shape.

A container's SizeRw (its writable layer) is berth-containerd's to measure and no RPC
reports it yet: 0 until one does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..containers import views
from ..images import views as image_views

if TYPE_CHECKING:
    from ..containers.service import Engine

_TYPES = ("container", "image", "volume", "build-cache")


async def usage(engine: Engine, types: list[str]) -> dict[str, Any]:
    from ..http.errors import bad_request

    for t in types:
        if t not in _TYPES:
            raise bad_request(f"unknown object type: {t}")
    wanted = set(types or _TYPES)
    images = await engine.ctrd.list_images()
    containers = engine.store.all()
    out: dict[str, Any] = {}
    if "image" in wanted:
        out["LayersSize"] = sum(i.size for i in images)
        rows = []
        for image in images:
            row = image_views.summary_json(image)
            row["Containers"] = sum(1 for c in containers if c.image == image.id)
            row["SharedSize"] = 0
            rows.append(row)
        out["Images"] = rows
    if "container" in wanted:
        sizes = {i.id: i.size for i in images}
        out["Containers"] = [{**views.summary(c), "SizeRw": 0, "SizeRootFs": sizes.get(c.image, 0)}
                             for c in containers]
    if "volume" in wanted:
        out["Volumes"] = engine.volumes.usage()  # with UsageData: daemon/volumes/
    if "build-cache" in wanted:
        out["BuildCache"] = []
    return out
