"""`GET /system/df`: images (with how many containers use each), containers, and the
volumes (with their UsageData), and the empty build-cache list, in docker's shape.

A container's SizeRw (its writable layer) and SizeRootFs are measured as for
`ps -s` (containers/sizes.py), omitted when 0 as dockerd's list entries omit them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..containers import sizes, views
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
        measured = await sizes.sizes(engine, containers)
        rows = []
        for c in containers:
            row = views.summary(c)
            sizes.add_sizes(row, measured[c.id], omit_zero=True)
            rows.append(row)
        out["Containers"] = rows
    if "volume" in wanted:
        out["Volumes"] = engine.volumes.usage()  # with UsageData: daemon/volumes/
    if "build-cache" in wanted:
        out["BuildCache"] = []
    return out
