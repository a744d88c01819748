"""Where the cgroup hierarchies are mounted and where this process sits in them.

Read from /proc/self/mountinfo and /proc/self/cgroup, as runc does: mountinfo's
`root` field matters when the hierarchy is mounted from a sub-cgroup (inside a
container), since /proc/self/cgroup paths are relative to the hierarchy's root.
"""

from __future__ import annotations

import os

# runc's cgroup v1 subsystems, in its order; "" stands for the unified (v2) hierarchy
# that hybrid hosts mount next to them (runc 1.1 joins it too).
V1_SUBSYSTEMS = (
    "cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio", "hugetlb",
    "net_cls", "net_prio", "perf_event", "freezer", "rdma", "name=systemd", "misc",
)
UNIFIED = ""
DEFAULT_ROOT = "/sys/fs/cgroup"


class Mount:
    """One cgroup hierarchy's mount: where it is, and which cgroup it shows.

    A plain class, not a dataclass: `dataclasses` pulls in `inspect` (~6 ms), and
    this module is imported by every `berth-runc create|run`.
    """

    __slots__ = ("mountpoint", "root")

    def __init__(self, mountpoint: str, root: str) -> None:
        self.mountpoint = mountpoint
        self.root = root  # the cgroup mounted there, relative to the hierarchy's root

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mount):
            return NotImplemented
        return (self.mountpoint, self.root) == (other.mountpoint, other.root)

    def __hash__(self) -> int:
        return hash((self.mountpoint, self.root))

    def __repr__(self) -> str:
        return f"Mount(mountpoint={self.mountpoint!r}, root={self.root!r})"


def _unescape(field: str) -> str:
    """mountinfo octal-escapes space, tab, newline and backslash."""
    if "\\" not in field:
        return field
    return field.encode().decode("unicode_escape")


def cgroup_mounts(mountinfo: str = "/proc/self/mountinfo") -> dict[str, Mount]:
    """subsystem name -> its mount; "" -> the cgroup2 mount (first one wins, as runc)."""
    mounts: dict[str, Mount] = {}
    with open(mountinfo) as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields = pre.split()
            after = post.split()
            if len(fields) < 5 or len(after) < 3:
                continue
            fstype, superopts = after[0], after[2]
            mount = Mount(_unescape(fields[4]), _unescape(fields[3]))
            if fstype == "cgroup2":
                mounts.setdefault(UNIFIED, mount)
            elif fstype == "cgroup":
                for opt in superopts.split(","):
                    if opt in V1_SUBSYSTEMS:
                        mounts.setdefault(opt, mount)
    return mounts


def own_cgroups(pid: str = "self") -> dict[str, str]:
    """subsystem name -> this process's cgroup path; "" -> its cgroup2 path."""
    out: dict[str, str] = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _hid, controllers, path = line.rstrip("\n").split(":", 2)
            if not controllers:
                out[UNIFIED] = path
                continue
            for ctrl in controllers.split(","):
                out[ctrl] = path
    return out


def locate(pid: str = "self") -> dict[str, str]:
    """subsystem name ("" = unified) -> the directory of process `pid`'s cgroup in that
    hierarchy, for every mounted hierarchy that shows it (not one whose mount shows
    only a cgroup outside it); as runc, the cgroup2 tree at DEFAULT_ROOT on a v2-only host."""
    own = own_cgroups(pid)
    if is_unified(DEFAULT_ROOT):
        return {UNIFIED: os.path.join(DEFAULT_ROOT, own.get(UNIFIED, "/").lstrip("/"))}
    paths: dict[str, str] = {}
    for name, mount in cgroup_mounts().items():
        if name not in own:
            continue
        path, root = own[name], mount.root.rstrip("/")
        if path != root and not path.startswith(root + "/"):
            continue  # its cgroup is outside what this mount shows
        paths[name] = os.path.join(mount.mountpoint, path[len(root):].lstrip("/")).rstrip("/")
    return paths


def is_unified(root: str = DEFAULT_ROOT, mountinfo: str = "/proc/self/mountinfo") -> bool:
    """True when `root` itself is a cgroup2 mount: runc's test for "cgroup v2 only"."""
    last = ""
    with open(mountinfo) as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields = pre.split()
            if len(fields) >= 5 and post and _unescape(fields[4]) == root:
                # Later mounts on the same point hide earlier ones: keep the last.
                last = post.split()[0]
    return last == "cgroup2"


def clean_path(path: str) -> str:
    """runc's utils.CleanPath: no way out of the hierarchy through "..", relative stays relative."""
    if not path:
        return ""
    norm = os.path.normpath(path)
    if not norm.startswith("/"):
        norm = os.path.relpath(os.path.normpath("/" + norm), "/")
        return "" if norm == "." else norm
    return os.path.normpath(norm).replace("//", "/")
