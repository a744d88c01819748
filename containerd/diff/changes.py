"""A container's writable layer as docker reports it: its size (SizeRw, `ps -s`) and
its change list (`docker diff`, GET /containers/{id}/changes).

Both come from one walk of the upper dir (upper.py), without mounting anything, so a
stopped container answers as a running one does. The rules are dockerd's for
overlay2 (moby pkg/archive changes.go, directory.Size):
- size: the bytes of every entry that is not a directory, each inode counted once;
- a whiteout, or an opaque directory that a lower layer has, is deleted (Kind 2);
- a path a lower layer has is modified (0), else added (1); a directory that a lower
  layer has with the same size, mode and mtime is left out (overlayfs copied it up
  only to hold a changed child);
- the parent of an added or deleted path is listed as modified before it, once.

dockerd keeps the mountpoints the runtime needs (/etc/hosts, /etc/hostname,
/etc/resolv.conf, /proc, /sys, /dev/...) in an "init" layer under the container's, so
`docker diff` of a fresh container is empty. berth has no such layer: the runtime
makes those mountpoints in the upper dir. They are left out here as long as they are
what the runtime made (an empty file, a directory), and so is /etc or /dev when they
are all that changed there.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from .upper import walk_upper

MODIFIED, ADDED, DELETED = 0, 1, 2
# moby daemon/initlayer: what the init layer holds, and the directories holding them
_INIT_FILES = frozenset({"etc/hosts", "etc/hostname", "etc/resolv.conf", "dev/console", ".dockerenv"})
_INIT_DIRS = frozenset({"proc", "sys", "dev", "dev/pts", "dev/shm", "etc"})


@dataclass
class LayerUsage:
    size: int                                                     # bytes
    changes: list[tuple[str, int]] = field(default_factory=list)  # (absolute path, kind), walk order


def usage(upper: str, lowers: list[str], with_changes: bool) -> LayerUsage:
    """`lowers`: the image's layer trees, topmost first (as overlayfs's lowerdir)."""
    size = 0
    seen: set[tuple[int, int]] = set()
    changes: list[tuple[str, int]] = []
    changed_dirs: set[str] = set()
    for e in walk_upper(upper):
        st = e.st
        if not stat.S_ISDIR(st.st_mode) and st.st_size > 0 and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            size += st.st_size
        if not with_changes:
            continue
        if _runtime_made(e.rel, st):
            continue
        path = "/" + e.rel
        below = None if e.whiteout else _lower_stat(lowers, e.rel)
        if e.whiteout or (e.opaque and below is not None):
            kind = DELETED
        elif below is None:
            kind = MODIFIED if e.rel in _INIT_DIRS else ADDED  # the init layer would have it
        elif stat.S_ISDIR(below.st_mode) and stat.S_ISDIR(st.st_mode) and _same_dir(st, below):
            continue  # copied up for a child's sake: the child says what changed
        else:
            kind = MODIFIED
        if stat.S_ISDIR(st.st_mode):
            changed_dirs.add(path)
        if kind != MODIFIED:
            parent = os.path.dirname(path)
            if parent != "/" and parent not in changed_dirs:
                changes.append((parent, MODIFIED))
                changed_dirs.add(parent)
        changes.append((path, kind))
    return LayerUsage(size, _without_init_parents(changes))


def _runtime_made(rel: str, st: os.stat_result) -> bool:
    """A mountpoint the runtime made where dockerd's init layer would have one."""
    if rel in _INIT_FILES:
        return stat.S_ISREG(st.st_mode) and st.st_size == 0
    return rel in _INIT_DIRS and rel != "etc" and rel != "dev" and stat.S_ISDIR(st.st_mode)


def _without_init_parents(changes: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """/etc and /dev as modified only when something under them changed: their mtime
    moved when the runtime made its mountpoints there."""
    out = []
    for path, kind in changes:
        if kind == MODIFIED and path in ("/etc", "/dev") \
                and not any(p.startswith(path + "/") for p, _ in changes):
            continue
        out.append((path, kind))
    return out


def _lower_stat(lowers: list[str], rel: str) -> os.stat_result | None:
    """The path in the topmost lower layer that has it. Not followed (dockerd's os.Stat
    follows, but a layer's absolute symlink points into the host); only "is it there"
    and, for a directory, its size, mode and mtime matter."""
    for layer in lowers:
        try:
            return os.lstat(os.path.join(layer, rel))
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            return None  # a loop or an unreadable link: nothing to compare with
    return None


def _same_dir(a: os.stat_result, b: os.stat_result) -> bool:
    """dockerd's test: size, mode and mtime equal (a whole-second mtime matches any
    nanoseconds of the same second: tar keeps no fractions)."""
    if a.st_size != b.st_size or a.st_mode != b.st_mode:
        return False
    sa, na = divmod(a.st_mtime_ns, 1_000_000_000)
    sb, nb = divmod(b.st_mtime_ns, 1_000_000_000)
    return a.st_mtime_ns == b.st_mtime_ns or (sa == sb and (na == 0 or nb == 0))
