"""Container cgroups for berth-runc, v1 and v2 behind one interface.

Which version: v2 only when /sys/fs/cgroup itself is a cgroup2 mount (runc's rule);
otherwise v1, joining on hybrid hosts the unified hierarchy as well, as runc 1.1 does.

Where (runc's cgroupsPath rules, cgroupfs driver):
- absolute ("/a/b"): from each hierarchy's root;
- relative ("a/b"): under the runtime's own cgroup; on v2 under its parent, because
  the runtime's own cgroup has processes and so cannot enable controllers for a child;
- empty: relative, named after the container id.

`open_manager_from_paths(m.paths())` gives back the same manager later (from state).
"""

from __future__ import annotations

import os

from berth.runc.cgroups._fs import CgroupError
from berth.runc.cgroups._proc import DEFAULT_ROOT, UNIFIED, clean_path, cgroup_mounts, is_unified, own_cgroups
from berth.runc.cgroups.devices import effective_rules

# typing (and Protocol) cost ~2 ms of every `berth-runc create|run`; annotations are
# strings, and CgroupManager is loaded only when asked for (see __getattr__).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.runc.cgroups.manager import CgroupManager
    from berth.runc.cgroups.v1 import V1Manager
    from berth.runc.cgroups.v2 import V2Manager

__all__ = ["CgroupError", "CgroupManager", "open_manager", "open_manager_from_paths", "effective_resources",
           "is_unified"]


def __getattr__(name: str) -> Any:
    """CgroupManager on first use: the protocol lives in .manager to keep `typing` off the start path."""
    if name == "CgroupManager":
        from berth.runc.cgroups.manager import CgroupManager

        return CgroupManager
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_manager(cgroups_path: str, container_id: str, *, root: str = DEFAULT_ROOT) -> CgroupManager:
    """The manager for a spec's linux.cgroupsPath; nothing is created until create()."""
    inner = clean_path(cgroups_path) or clean_path(container_id)
    if not inner:
        raise CgroupError("cgroup: container id and cgroupsPath are both empty")
    if is_unified(root):
        return _v2_manager(inner, root)
    return _v1_manager(inner)


def open_manager_from_paths(paths: dict[str, str], *, root: str | None = None) -> CgroupManager:
    """Reopen a manager saved with paths(): {"": dir} alone is v2, anything else v1."""
    if set(paths) == {UNIFIED}:
        from berth.runc.cgroups.v2 import V2Manager

        path = paths[UNIFIED]
        return V2Manager(path, root or _unified_root_of(path))
    from berth.runc.cgroups.v1 import V1Manager

    return V1Manager(dict(paths))


def effective_resources(linux: dict[str, Any]) -> dict[str, Any]:
    """linux.resources with the device rules runc adds (defaults and linux.devices) appended."""
    resources = dict(linux.get("resources") or {})
    resources["devices"] = effective_rules(linux)
    return resources


def _v2_manager(inner: str, root: str) -> "V2Manager":
    from berth.runc.cgroups.v2 import V2Manager

    if inner.startswith("/"):
        return V2Manager(os.path.join(root, inner.lstrip("/")), root)
    own = own_cgroups().get(UNIFIED, "/")
    return V2Manager(os.path.join(root, os.path.dirname(own).lstrip("/"), inner), root)


def _v1_manager(inner: str) -> "V1Manager":
    from berth.runc.cgroups.v1 import V1Manager

    mounts = cgroup_mounts()
    own = own_cgroups() if not inner.startswith("/") else {}
    paths: dict[str, str] = {}
    for name, mount in mounts.items():
        if inner.startswith("/"):
            paths[name] = os.path.join(mount.mountpoint, inner.lstrip("/"))
            continue
        # The runtime's own cgroup, as seen through this mount (whose root may be a sub-cgroup).
        rel = os.path.relpath(own.get(name, "/"), mount.root)
        base = mount.mountpoint if rel == "." else os.path.join(mount.mountpoint, rel)
        paths[name] = os.path.join(base, inner)
    if not paths:
        raise CgroupError("no cgroup mounts found")
    return V1Manager(paths)


def _unified_root_of(path: str) -> str:
    """The cgroup2 mount point that holds `path` (the longest matching one)."""
    best = DEFAULT_ROOT
    best_len = -1
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields = pre.split()
            if post.startswith("cgroup2 ") and len(fields) >= 5:
                mp = fields[4]
                if (path == mp or path.startswith(mp.rstrip("/") + "/")) and len(mp) > best_len:
                    best, best_len = mp, len(mp)
    return best
