"""Layers shifted for a remapped root (berthd --userns-remap), dockerd's remapped graph root.

A container whose spec has a user namespace with uid/gid mappings gets its active snapshot
over a parallel chain: for each committed layer, a copy whose owners are the host ids the
mappings give (a file 0:0 in the image is owned by the first subordinate ids, so inside the
container it is root's). The copy of a layer is keyed `remap:<chain hex>.<mapping tag>` and
lives in `<root>/remapped/`; it is made once per (chain, mapping), by `cp -a` and an lchown
of every inode, and reused by every later container with the same mapping.

A copy goes with its source: removing a committed snapshot removes its copies nothing builds
on, and removing the last container over a copy whose source is gone removes that copy.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument

if TYPE_CHECKING:
    from .overlay import Snapshotter

PREFIX = "remap:"
_CAPS = "security.capability"  # chown drops file capabilities; they are put back


@dataclass(frozen=True)
class Mapping:
    uids: tuple[tuple[int, int, int], ...]  # (container id, host id, size), as the OCI spec's
    gids: tuple[tuple[int, int, int], ...]

    @property
    def tag(self) -> str:
        text = json.dumps([self.uids, self.gids])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def uid(self, cid: int) -> int:
        return _shift(self.uids, cid, "Container ID")

    def gid(self, cid: int) -> int:
        return _shift(self.gids, cid, "Container ID")

    def unshift(self, uid: int, gid: int) -> tuple[int, int]:
        """Host ids back to the container's (a commit's layer is the image's, not the host's)."""
        back = lambda maps: tuple((h, c, n) for c, h, n in maps)  # noqa: E731
        return _shift(back(self.uids), uid, "Host ID"), _shift(back(self.gids), gid, "Host ID")


def _shift(maps: tuple[tuple[int, int, int], ...], cid: int, what: str) -> int:
    for c, h, n in maps:
        if c <= cid < c + n:
            return h + cid - c
    other = "a container" if what == "Host ID" else "a host"
    raise InvalidArgument(f"{what} {cid} cannot be mapped to {other} ID")


def mapping_of(spec: dict[str, Any]) -> Mapping | None:
    """The spec's own user namespace mappings (None: no user namespace, or one joined by path)."""
    linux = spec.get("linux") or {}
    ns = [n for n in linux.get("namespaces") or [] if isinstance(n, dict) and n.get("type") == "user"]
    if not ns or ns[0].get("path") or not linux.get("uidMappings") or not linux.get("gidMappings"):
        return None

    def maps(key: str) -> tuple[tuple[int, int, int], ...]:
        try:
            return tuple((int(m["containerID"]), int(m["hostID"]), int(m["size"])) for m in linux[key])
        except (KeyError, TypeError, ValueError):
            raise InvalidArgument(f"container spec: invalid linux.{key}") from None

    return Mapping(maps("uidMappings"), maps("gidMappings"))


def shifted_key(chain: str, m: Mapping) -> str:
    return f"{PREFIX}{chain.split(':', 1)[1]}.{m.tag}"


def source_of(key: str) -> str:
    """The committed chain a copy was made from."""
    return "sha256:" + key[len(PREFIX):].split(".", 1)[0]


def ensure(snap: Snapshotter, chain: str, m: Mapping) -> str:
    """The shifted copy of committed `chain` and of everything below it, made where missing;
    its key (the parent of a remapped container's active snapshot)."""
    below: list[str] = []
    key = chain
    while key:  # bottom first, so every copy's parent exists when it is made
        below.append(key)
        rec = snap.record(key)
        if rec is None:
            raise InvalidArgument(f"snapshot {key}: not found")
        key = rec.parent
    parent = ""
    for key in reversed(below):
        target = shifted_key(key, m)
        src = snap.layer_path(key)
        snap.commit_tree(target, parent, "remapped", lambda fs, src=src: _copy_shifted(src, fs, m))
        parent = target
    return parent


def own_upper(snap: Snapshotter, key: str, m: Mapping) -> None:
    """The container's upper and work dirs belong to its root (overlay's / is the upper's)."""
    upper, _ = snap.layer_dirs(key)
    for d in (upper, os.path.join(os.path.dirname(upper), "work")):
        os.chown(d, m.uid(0), m.gid(0))


def _copy_shifted(src: str, dst: str, m: Mapping) -> None:
    """`src`'s tree at `dst` (which exists, empty), every inode's owner shifted once (hard
    links share one); setuid bits and file capabilities survive the chown."""
    r = subprocess.run(["cp", "-a", "--reflink=auto", src + "/.", dst], capture_output=True, text=True)
    if r.returncode != 0:
        raise OSError(errno.EIO, f"copy layer for remapped root: {r.stderr.strip()}")
    done: set[int] = set()
    _chown(dst, m, done)
    for parent, dirs, files in os.walk(dst):
        for name in dirs + files:
            _chown(os.path.join(parent, name), m, done)


def _chown(path: str, m: Mapping, done: set[int]) -> None:
    st = os.lstat(path)
    if st.st_ino in done:
        return
    done.add(st.st_ino)
    link = stat.S_ISLNK(st.st_mode)
    caps = None
    if stat.S_ISREG(st.st_mode):
        try:
            caps = os.getxattr(path, _CAPS, follow_symlinks=False)
        except OSError:
            caps = None
    os.chown(path, m.uid(st.st_uid), m.gid(st.st_gid), follow_symlinks=False)
    if not link and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
        os.chmod(path, stat.S_IMODE(st.st_mode))
    if caps is not None:
        os.setxattr(path, _CAPS, caps, follow_symlinks=False)


def drop_copies(snap: Snapshotter, chain: str) -> None:
    """After committed `chain` went: its copies that nothing builds on go too."""
    head = shifted_key(chain, Mapping((), ())).rsplit(".", 1)[0] + "."
    for key in snap.keys_with_prefix(head):
        drop_orphan(snap, key)


def drop_orphan(snap: Snapshotter, key: str) -> None:
    """Remove copy `key`, then its parents, while nothing builds on them and their source is gone."""
    while key.startswith(PREFIX):
        rec = snap.record(key)
        if rec is None or snap.record(source_of(key)) is not None or snap.has_children(key):
            return
        snap.remove(key)
        key = rec.parent


def sweep(snap: Snapshotter, remapped_dir: str) -> None:
    """At start: a copy whose record a crash lost is removed."""
    for name in os.listdir(remapped_dir):
        if snap.record(PREFIX + name) is None:
            shutil.rmtree(os.path.join(remapped_dir, name), ignore_errors=True)
