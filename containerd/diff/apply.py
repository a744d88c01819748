"""Applying a layer: a tar (plain or gzip) unpacked into a snapshot's tree, with OCI
whiteouts turned into overlayfs ones (or dropped, for a base layer)."""

from __future__ import annotations

import os
import stat
import subprocess

from ..errors import InvalidArgument

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"


def apply_layer(blob_path: str, dest: str, has_parent: bool) -> None:
    """Unpack a layer blob into the empty directory `dest`."""
    _extract(blob_path, dest)
    if has_parent:
        _convert_whiteouts(dest)
    else:
        _drop_whiteouts(dest)


def _extract(blob_path: str, dest: str) -> None:
    # GNU tar: keeps owners, modes (setuid, sticky), device nodes, hard links and
    # xattrs, detects gzip itself, and defers symlinks so that no member can be
    # written through a link pointing outside `dest`.
    proc = subprocess.run(
        ["tar", "-x", "-f", blob_path, "-C", dest, "--numeric-owner", "--same-permissions",
         "--xattrs", "--xattrs-include=*", "--no-overwrite-dir"],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        msg = proc.stderr.strip().splitlines()
        raise InvalidArgument(f"unpack layer: {msg[0] if msg else 'tar failed'}")


def _drop_whiteouts(fs: str) -> None:
    """A base layer has nothing below it to hide: whiteout files just go."""
    for dirpath, _dirs, files in os.walk(fs):
        for name in files:
            if name.startswith(_WHITEOUT):
                os.unlink(os.path.join(dirpath, name))


def _convert_whiteouts(fs: str) -> None:
    """OCI whiteouts (.wh.NAME, .wh..wh..opq) to overlayfs ones (0/0 char device, opaque xattr)."""
    for dirpath, _dirs, files in os.walk(fs):
        for name in files:
            if name == _OPAQUE:
                os.unlink(os.path.join(dirpath, name))
                os.setxattr(dirpath, "trusted.overlay.opaque", b"y")
            elif name.startswith(_WHITEOUT):
                os.unlink(os.path.join(dirpath, name))
                os.mknod(os.path.join(dirpath, name[len(_WHITEOUT):]), stat.S_IFCHR | 0o000, os.makedev(0, 0))
