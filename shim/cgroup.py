"""The container's cgroup as the shim sees it: statistics, OOM kills, nothing else.

The shim holds the container for its whole life, so it is where an OOM kill is
noticed: the kernel counts them in the memory cgroup (v1 memory.oom_control, v2
memory.events, key `oom_kill`), and the cgroup outlives the init until the runtime's
delete. The cgroup is located once, from the init's /proc/PID/cgroup right after
create, so it works alike under berth-runc and Debian's runc. The numbers are read
by berth.runc's cgroup managers (runc's `events --stats` shape); their modules are
imported only when stats are first asked for, to keep an idle shim small.
"""

from __future__ import annotations

import os
from typing import Any

from berth.runc.cgroups._fs import read_keyed
from berth.runc.cgroups._proc import DEFAULT_ROOT, UNIFIED, cgroup_mounts, is_unified, own_cgroups

Paths = dict[str, str]  # subsystem ("" = unified) -> the container's cgroup directory


def locate(pid: int) -> Paths:
    """Where process `pid` sits in every mounted hierarchy; {} if it cannot be told."""
    try:
        own = own_cgroups(str(pid))
        if is_unified(DEFAULT_ROOT):
            return {UNIFIED: os.path.join(DEFAULT_ROOT, own.get(UNIFIED, "/").lstrip("/"))}
        mounts = cgroup_mounts()
    except (OSError, ValueError):
        return {}
    paths: Paths = {}
    for name, mount in mounts.items():
        if name in own:
            rel = os.path.relpath(own[name], mount.root)
            paths[name] = mount.mountpoint if rel == "." else os.path.join(mount.mountpoint, rel)
    return paths


def _memory_dir(paths: Paths) -> str:
    return paths.get("memory") or (paths.get(UNIFIED, "") if set(paths) == {UNIFIED} else "")


def oom_kills(paths: Paths) -> int:
    """How many processes the OOM killer has killed in the container's memory cgroup."""
    directory = _memory_dir(paths)
    if not directory:
        return 0
    name = "memory.events" if set(paths) == {UNIFIED} else "memory.oom_control"
    try:
        return read_keyed(directory, name).get("oom_kill", 0)
    except OSError:
        return 0


def stats(paths: Paths) -> dict[str, Any]:
    """runc's stats "data" for the container's cgroup (cpu, memory, pids, blkio, ...)."""
    if not paths:
        return {}
    from berth.runc.cgroups import open_manager_from_paths

    return open_manager_from_paths(paths).stats()
