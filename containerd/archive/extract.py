"""docker cp into a container (PUT /containers/{id}/archive): a tar extracted into a
directory of the container's root.

The destination is resolved inside the root, its last component followed too (moby
does: one may extract to a symlink to a directory); the tar is unpacked by the layer
extractor (diff/safetar.py) confined to that directory, so neither a symlink already
in the container nor one the archive plants leads a later entry out of it.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from typing import Callable, Iterator

from ..diff.confined import openat2_in_root
from ..diff.safetar import Extractor, Feed, LayerError
from ..errors import Internal, InvalidArgument, NotFound
from .paths import absolute

TAR_ERROR = "Error processing tar file(exit status 1): "


def destination(root_fd: int, path: str) -> int:
    """An O_PATH fd of the directory to extract into; NotFound, or InvalidArgument when
    it is not a directory (docker's "extraction point is not a directory")."""
    rel = absolute(path).strip("/") or "."
    try:
        fd = openat2_in_root(root_fd, rel, os.O_PATH)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            raise NotFound(f"no such file or directory: {path}") from None
        raise
    if not stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidArgument("extraction point is not a directory")
    return fd


def owner_of(spec: bytes) -> tuple[int, int]:
    """docker cp -a: the container's user (resolved into its spec at create)."""
    user = (json.loads(spec).get("process") or {}).get("user") or {}
    return int(user.get("uid", 0)), int(user.get("gid", 0))


def _mount_id(fd: int) -> str:
    with open(f"/proc/self/fdinfo/{fd}") as f:
        return next((line.split()[1] for line in f if line.startswith("mnt_id:")), "")


def _writable(root_fd: int, fd: int, readonly_rootfs: bool) -> None:
    """dockerd's checks of where the archive goes: a read-only volume or bind (any mount
    but the root's, in the view) refuses it, and a read-only rootfs does unless the
    destination is in a volume."""
    if _mount_id(fd) != _mount_id(root_fd):
        if os.fstatvfs(fd).f_flag & os.ST_RDONLY:
            raise Internal("mounted volume is marked read-only")  # dockerd's 500s, both
    elif readonly_rootfs:
        raise Internal("container rootfs is marked read-only")


def extract(root_fd: int, path: str, pieces: Iterator[bytes] | Feed, owner: tuple[int, int] | None,
            keep_kinds: bool, readonly_rootfs: bool = False,
            shift: Callable[[int, int], tuple[int, int]] | None = None) -> None:
    """`shift`: container ids to the host's (a remapped container's files)."""
    fd = destination(root_fd, path)
    try:
        _writable(root_fd, fd, readonly_rootfs)
        ex = Extractor(f"/proc/self/fd/{fd}", has_parent=False, allow_devices=True, owner=owner,
                       keep_kinds=keep_kinds)
        ex.shift = shift
        try:
            ex.run(pieces if isinstance(pieces, Feed) else Feed(pieces))
        except LayerError as e:
            raise Internal(TAR_ERROR + str(e).removeprefix("unpack layer: ")) from None
    finally:
        os.close(fd)
