"""One walk over an overlayfs upper dir, shared by the layer writer (layer.py: commit,
build) and the writable layer's size and change list (changes.py: ps -s, docker diff).

overlayfs marks a deleted path as a 0:0 character device and a directory that hides
everything below it (rm -rf then mkdir) with the `trusted.overlay.opaque` xattr (or
`user.overlay.opaque` on a userxattr mount). The walk is depth first, each directory's
names sorted, a directory before what it holds: the same tree always walks the same.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Iterator

_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")


@dataclass
class UpperEntry:
    rel: str                # the path under the upper dir, "etc/motd" (no leading slash)
    full: str               # the path on the host
    st: os.stat_result      # lstat
    whiteout: bool = False  # `rel` was deleted: the entry is overlayfs's 0:0 char device
    opaque: bool = False    # a directory that hides what the layers below hold there


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    for attr in _OPAQUE_XATTRS:
        try:
            if os.getxattr(path, attr, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def walk_upper(root: str, rel: str = "") -> Iterator[UpperEntry]:
    """Every entry under `root`, the root itself left out.

    A running container changes its upper dir under the walk: what vanishes between
    the listing and the lstat is skipped, as if it had gone before the walk started.
    """
    path = os.path.join(root, rel) if rel else root
    try:
        names = sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in names:
        child = f"{rel}/{name}" if rel else name
        full = os.path.join(path, name)
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            continue
        if is_whiteout(st):
            yield UpperEntry(child, full, st, whiteout=True)
            continue
        directory = stat.S_ISDIR(st.st_mode)
        yield UpperEntry(child, full, st, opaque=directory and is_opaque(full))
        if directory:
            yield from walk_upper(root, child)
