"""A create request's mounts, in dockerd's order (registerMountPoints, then the
Config.Volumes of createContainerOSSpecificSettings): VolumesFrom first, Binds and
Mounts over them, then an anonymous volume for every Config.Volumes path (the image's
and the request's) that nothing else covers. Tmpfs entries are mount points too."""

from __future__ import annotations

import copy
from typing import Any, Callable

from . import parse
from .parse import MountError
from .points import MountPoint


def _dup(dest: str) -> MountError:
    return MountError(f"Duplicate mount point: {dest}")


def check(host: dict[str, Any], config: dict[str, Any]) -> None:
    """The refusals of the request alone (create.check, before the image is looked up)."""
    _own(host)
    for dest in (config.get("Volumes") or {}):
        parse.anonymous(dest)
    for spec in host.get("VolumesFrom") or []:
        parse.parse_volumes_from(spec)


def _own(host: dict[str, Any]) -> tuple[dict[str, MountPoint], set[str]]:
    """Binds, Mounts and Tmpfs by destination, and the destinations they claim."""
    points: dict[str, MountPoint] = {}
    taken: set[str] = set()
    for raw in _strings(host.get("Binds"), "Binds"):
        mp = parse.parse_bind(raw)
        if mp.destination in taken:
            raise _dup(mp.destination)
        taken.add(mp.destination)
        points[mp.destination] = mp
    tmpfs = host.get("Tmpfs") or {}
    if not isinstance(tmpfs, dict):
        raise MountError("HostConfig.Tmpfs must be an object of path: options")
    for dest, data in tmpfs.items():
        mp = parse.parse_tmpfs(str(dest), str(data or ""))
        if mp.destination in taken:
            raise _dup(mp.destination)
        taken.add(mp.destination)
        points[mp.destination] = mp
    mounts = host.get("Mounts") or []
    if not isinstance(mounts, list):
        raise MountError("HostConfig.Mounts must be a list")
    for m in mounts:
        mp = parse.parse_mount(m)
        if mp.destination in taken:
            raise _dup(mp.destination)
        taken.add(mp.destination)
        points[mp.destination] = mp
    return points, taken


def _strings(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MountError(f"HostConfig.{field} must be a list of strings")
    return value


def plan(host: dict[str, Any], config: dict[str, Any], image_cfg: dict[str, Any],
         volumes_of: Callable[[str], list[MountPoint]]) -> list[MountPoint]:
    """Every mount point of a new container, volumes not yet resolved to a mountpoint.
    `volumes_of(ref)` gives another container's points (raises for an unknown one)."""
    own, taken = _own(host)
    points: dict[str, MountPoint] = {}
    for spec in _strings(host.get("VolumesFrom"), "VolumesFrom"):
        ref, mode = parse.parse_volumes_from(spec)
        for theirs in volumes_of(ref):
            if theirs.type == "tmpfs":
                continue  # a tmpfs is the container's own, as dockerd's TmpfsMounts
            mp = copy.deepcopy(theirs)
            words = mode.split(",")
            if "ro" in words or "rw" in words:
                mp.rw = "ro" not in words
                mp.mode = mode
            mp.anonymous = False  # ours to use, not ours to remove
            mp.copy_data = False
            points[mp.destination] = mp
    points.update(own)
    wanted = {**(image_cfg.get("Volumes") or {}), **(config.get("Volumes") or {})}
    for dest in wanted:
        mp = parse.anonymous(dest)
        if mp.destination not in points and mp.destination not in taken:
            points[mp.destination] = mp
    return list(points.values())
