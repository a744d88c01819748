"""An exec'd process's own way into its container's cgroups, without the global lock.

A write of a pid to cgroup.procs takes cgroup_threadgroup_rwsem for write, which waits
for an RCU grace period when no migration happened lately (up to ~15 ms). Two paths
skip it (kernel/cgroup/cgroup.c, cgroup_procs_write_start and cgroup_css_set_fork):
- cgroup v1: a thread that writes "0" (itself) to a hierarchy's `tasks` file moves
  without it (cgroup_mutex is enough); the exec's child is single-threaded, so that
  moves the whole process;
- cgroup v2 (the unified hierarchy, also joined on hybrid hosts): the child is cloned
  into the cgroup (berth.runc.clone3), which takes the lock for read only.
The files and the directory are opened by the parent before the fork: permission is the
opener's, and the child joins before it enters the container's mount namespace, where
the host's cgroupfs is not visible, and before any other of its namespaces (runc's order).
"""

from __future__ import annotations

import os

from berth.runc.cgroups._fs import _wrap, write
from berth.runc.cgroups._proc import UNIFIED


class ExecJoin:
    """The open `tasks` files (v1) and cgroup directory (v2) of one exec's join."""

    __slots__ = ("tasks", "unified", "unified_path", "born_in")

    def __init__(self, tasks: list[tuple[str, int]], unified: int | None, unified_path: str | None) -> None:
        self.tasks = tasks  # (tasks file, fd), the freezer's last: a paused one freezes us once in all others
        self.unified = unified  # the cgroup2 directory's fd, for clone3
        self.unified_path = unified_path
        self.born_in = False  # the child was cloned into the unified one

    def join_self(self) -> None:
        """In the child, first: into every v1 hierarchy's cgroup, each a write of "0"."""
        for path, fd in self.tasks:
            try:
                os.write(fd, b"0")
            except OSError as e:
                raise _wrap(e, "write", path, "0") from e
        self.close()

    def join_rest(self, pid: int) -> None:
        """In the parent, after the fork: the unified cgroup when the child was not born in it
        (a kernel older than 5.7, or one that refused the cgroup: this write says why)."""
        if self.unified_path is not None and not self.born_in:
            write(self.unified_path, "cgroup.procs", str(pid))

    def close(self) -> None:
        for _path, fd in self.tasks:
            os.close(fd)
        if self.unified is not None:
            os.close(self.unified)
        self.tasks, self.unified = [], None


def prepare(paths: dict[str, str]) -> ExecJoin | None:
    """The join of a container's cgroups (its manager's paths()) opened; None when one of
    them cannot be opened (gone, say): the caller then joins by pid as before, and that
    join's error says which one and why, in runc's words."""
    tasks: list[tuple[str, int]] = []
    unified = None
    seen: set[str] = set()
    try:
        for name, path in sorted(paths.items(), key=lambda item: item[0] == "freezer"):
            if name == UNIFIED:
                unified = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            elif path not in seen:  # co-mounted controllers (cpu,cpuacct) share one directory
                seen.add(path)
                file = os.path.join(path, "tasks")
                tasks.append((file, os.open(file, os.O_WRONLY | os.O_CLOEXEC)))
    except OSError:
        ExecJoin(tasks, unified, None).close()
        return None
    return ExecJoin(tasks, unified, paths.get(UNIFIED))
