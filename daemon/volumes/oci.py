"""Mount points into the OCI spec's mounts, as dockerd's withMounts makes them: user
mounts replace the defaults at the same destination (and /dev/* under a user /dev),
sorted so that a parent is mounted before what goes inside it.

A bind's source in the spec is not the user's path but a pin of it that berthd makes
at every start (staging.py), so the runtime mounts what berthd checked, whatever
happens to the user's path in between. The volumes a container should fill from its
image (copy-up) are named in an annotation that berth-containerd reads once the
rootfs is mounted (containerd/runtime/copyup.py)."""

from __future__ import annotations

import json
import os
from typing import Any

from .points import MountPoint

COPYUP = "org.berth.volumes.copyup"  # JSON list of destinations; also in containerd/runtime/copyup.py
_TMPFS_DEFAULT = ["noexec", "nosuid", "nodev"]
# a later word of the same pair wins (mount.MergeTmpfsOptions)
_PAIRS = {"exec": "noexec", "suid": "nosuid", "dev": "nodev", "ro": "rw", "atime": "noatime"}


def stage_path(stage_root: str, cid: str, index: int) -> str:
    return os.path.join(stage_root, cid, str(index))


def _merge_tmpfs(words: list[str]) -> list[str]:
    out: list[str] = []
    keyed: dict[str, int] = {}
    for w in words:
        if not w:
            continue
        key = w.split("=", 1)[0] if "=" in w else next(
            (a for a, b in _PAIRS.items() if w in (a, b)), w)
        if key in keyed:
            out[keyed[key]] = w
        else:
            keyed[key] = len(out)
            out.append(w)
    return out


def entry(mp: MountPoint, index: int, cid: str, stage_root: str) -> dict[str, Any]:
    if mp.type == "tmpfs":
        return {"destination": mp.destination, "type": "tmpfs", "source": "tmpfs",
                "options": _merge_tmpfs(_TMPFS_DEFAULT + ["rprivate"] + mp.tmpfs.split(","))}
    options = ["rbind" if mp.recursive else "bind", mp.propagation or "rprivate"]
    if not mp.rw:
        options.append("ro")
    source = stage_path(stage_root, cid, index) if mp.type == "bind" else mp.source
    return {"destination": mp.destination, "type": "bind", "source": source, "options": options}


def _depth(m: dict[str, Any]) -> int:
    return len(os.path.normpath(m["destination"]).split("/"))


def apply(oci: dict[str, Any], points: list[MountPoint], cid: str, stage_root: str) -> None:
    """The container's own mounts into `oci` (called from containers/spec.py)."""
    if not points:
        return
    users = [entry(mp, i, cid, stage_root) for i, mp in enumerate(points)]
    dests = {m["destination"] for m in users}
    kept = [m for m in oci["mounts"] if m["destination"] not in dests
            and not (m["destination"].startswith("/dev/") and "/dev" in dests)]
    oci["mounts"] = kept + sorted(users, key=_depth)
    copy = [mp.destination for mp in points if mp.type == "volume" and mp.copy_data]
    if copy:
        oci.setdefault("annotations", {})[COPYUP] = json.dumps(copy)
