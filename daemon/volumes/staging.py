"""Bind sources pinned for the runtime, at every start.

The user names a host path; between berthd's look at it and the runtime's mount(2) a
process on the host could swap a directory of that path for a symlink to /etc. So
berthd resolves the path once, opens it with openat2(RESOLVE_NO_SYMLINKS) (a symlink
that appeared since the resolution fails the open: the start is refused), and binds
that very file, by its fd through /proc/self/fd as runc does, onto
<exec-root>/volumes/binds/<id>/<n>: the path in the spec. Nothing done to the user's
path afterwards changes what the pin holds. The pins go once the runtime has made
its mounts (after the task's create), and a crash's leftovers at berthd's start."""

from __future__ import annotations

import errno
import os
import shutil
import stat

from . import sysmount
from .oci import stage_path
from .points import MountPoint


class SourceError(Exception):
    """A bind source that cannot be used (a 500 at start, dockerd's wording where it has one)."""


def _ensure_source(mp: MountPoint) -> str:
    """The resolved source; -v's missing host directory is made (as dockerd's Setup)."""
    if not os.path.lexists(mp.source):
        if not mp.create_source:
            raise SourceError(f"invalid mount config for type \"bind\": bind source path does not exist: "
                              f"{mp.source}")
        try:
            os.makedirs(mp.source, 0o755, exist_ok=True)
        except OSError as e:
            raise SourceError(f"error while creating mount source path '{mp.source}': mkdir {mp.source}: "
                              f"{e.strerror.lower() if e.strerror else e}") from None
    return os.path.realpath(mp.source)


def pin(points: list[MountPoint], cid: str, stage_root: str) -> None:
    """Every bind of `points` pinned at its stage path."""
    binds = [(i, mp) for i, mp in enumerate(points) if mp.type == "bind"]
    if not binds:
        return
    base = os.path.join(stage_root, cid)
    unpin(cid, stage_root)
    os.makedirs(base, mode=0o700)
    try:
        for i, mp in binds:
            real = _ensure_source(mp)
            try:
                fd = sysmount.open_no_symlinks(real)
            except OSError as e:
                if e.errno == errno.ELOOP:
                    raise SourceError(f"bind source path {mp.source} changed while it was being mounted "
                                      "(a symbolic link appeared in it): refused") from None
                raise SourceError(f"bind source path {mp.source}: {e.strerror}") from None
            try:
                target = stage_path(stage_root, cid, i)
                if stat.S_ISDIR(os.fstat(fd).st_mode):
                    os.mkdir(target, 0o700)
                else:
                    os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
                flags = sysmount.MS_BIND | (sysmount.MS_REC if mp.recursive else 0)
                sysmount.mount(f"/proc/self/fd/{fd}", target, None, flags)
            finally:
                os.close(fd)
    except BaseException:
        unpin(cid, stage_root)
        raise


def unpin(cid: str, stage_root: str) -> None:
    base = os.path.join(stage_root, cid)
    if not os.path.lexists(base):
        return
    for point in sysmount.mounted_under(base):
        sysmount.unmount(point)
    shutil.rmtree(base, ignore_errors=True)


def sweep(stage_root: str) -> None:
    """At berthd's start: pins a crash left between a start's steps."""
    if os.path.isdir(stage_root):
        for point in sysmount.mounted_under(stage_root):
            sysmount.unmount(point)
        shutil.rmtree(stage_root, ignore_errors=True)
    os.makedirs(stage_root, mode=0o700, exist_ok=True)
