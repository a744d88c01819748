"""`berth system df [-v]`: disk usage by type, docker's table and its verbose lists."""

from __future__ import annotations

from berth.client import format as fmt
from berth.client.flags import Parsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.client.main import Context


def human(size: float) -> str:
    """go-units HumanSize: four significant digits."""
    return fmt.human_size(size, 4)


def _reclaimable(reclaimable: int, total: int) -> str:
    if total > 0:
        return f"{human(reclaimable)} ({reclaimable * 100 // total}%)"
    return human(reclaimable)


def summary_rows(df: dict[str, Any]) -> list[list[str]]:
    images = df.get("Images") or []
    containers = df.get("Containers") or []
    volumes = df.get("Volumes") or []
    image_total = df.get("LayersSize") or sum(i.get("Size", 0) for i in images)
    used = sum(i.get("Size", 0) for i in images if i.get("Containers", 0) > 0)
    ctr_total = sum(c.get("SizeRw", 0) for c in containers)
    ctr_free = sum(c.get("SizeRw", 0) for c in containers if c.get("State") != "running")
    vol_total = sum((v.get("UsageData") or {}).get("Size", 0) for v in volumes)
    return [
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        ["Images", str(len(images)), str(sum(1 for i in images if i.get("Containers", 0) > 0)),
         human(image_total), _reclaimable(image_total - used, image_total)],
        ["Containers", str(len(containers)), str(sum(1 for c in containers if c.get("State") == "running")),
         human(ctr_total), _reclaimable(ctr_free, ctr_total)],
        ["Local Volumes", str(len(volumes)), "0", human(vol_total), _reclaimable(vol_total, vol_total)],
        ["Build Cache", "0", "0", "0B", "0B"],
    ]


def _verbose(df: dict[str, Any]) -> str:
    images = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"]]
    for img in df.get("Images") or []:
        for tag in img.get("RepoTags") or ["<none>:<none>"]:
            repo, _, name = tag.rpartition(":")
            shared = img.get("SharedSize", 0) or 0
            images.append([repo, name, fmt.short_id(img.get("Id", "")), fmt.ago(img.get("Created")),
                           human(img.get("Size", 0)), human(shared), human(img.get("Size", 0) - shared),
                           str(img.get("Containers", 0))])
    containers = [["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"]]
    for c in df.get("Containers") or []:
        containers.append([fmt.short_id(c.get("Id", "")), c.get("Image", ""),
                           fmt.go_quote(fmt.ellipsis(c.get("Command", ""), 20)), "0",
                           fmt.human_size(c.get("SizeRw", 0)),  # ps's SIZE, without its virtual part
                           fmt.ago(c.get("Created")), c.get("Status", ""), fmt.names_column(c.get("Names") or [])])
    return ("Images space usage:\n\n" + fmt.table(images) + "\nContainers space usage:\n\n" + fmt.table(containers)
            + "\nLocal Volumes space usage:\n\n" + fmt.table([["VOLUME NAME", "LINKS", "SIZE"]])
            + "\nBuild cache usage: 0B\n\n"
            + fmt.table([["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"]]))


def cmd_df(ctx: Context, parsed: Parsed) -> int:
    df = ctx.client().get("/system/df")
    ctx.out(_verbose(df) if parsed.opts.get("verbose") else fmt.table(summary_rows(df)))
    return 0
