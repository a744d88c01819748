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

import ctypes
import os
from typing import Any

from berth.runc.cgroups._fs import read_keyed
from berth.runc.cgroups import _proc
from berth.runc.cgroups._proc import UNIFIED
from berth.shim.libc import LIBC  # here, not in the function: an import run in a shim writes pages

Paths = dict[str, str]  # subsystem ("" = unified) -> the container's cgroup directory


def locate(pid: int) -> Paths:
    """Where process `pid` sits in every mounted hierarchy; {} if it cannot be told."""
    try:
        return _proc.locate(str(pid))
    except (OSError, ValueError):
        return {}


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


def oom_notifier(paths: Paths) -> int | None:
    """An fd that turns readable when the memory cgroup may have seen an OOM kill; None if none.

    v1 has an eventfd registered on memory.oom_control through cgroup.event_control;
    v2 says it by a file-modified event on memory.events (inotify).  Either can also
    fire for other reasons (v1 signals its events when the cgroup is removed), so the
    reader re-counts with oom_kills() rather than trusting the wakeup.
    """
    directory = _memory_dir(paths)
    if not directory:
        return None
    try:
        if set(paths) == {UNIFIED}:
            return _inotify_modify(os.path.join(directory, "memory.events"))
        efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        try:
            control = os.open(os.path.join(directory, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
            try:
                with open(os.path.join(directory, "cgroup.event_control"), "w") as f:
                    f.write(f"{efd} {control}")
            finally:
                os.close(control)  # the kernel keeps what it needs of it
        except OSError:
            os.close(efd)
            raise
        return efd
    except OSError:
        return None


def drain(fd: int) -> None:
    """Empty a notifier fd (an eventfd's counter, or queued inotify events)."""
    try:
        while os.read(fd, 4096):
            pass
    except (BlockingIOError, OSError):
        pass


def _inotify_modify(path: str) -> int:
    fd = LIBC.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1")
    if LIBC.inotify_add_watch(fd, os.fsencode(path), 0x002) < 0:  # IN_MODIFY
        err = ctypes.get_errno()
        os.close(fd)
        raise OSError(err, f"inotify_add_watch {path}")
    return fd
