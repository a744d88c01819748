"""Files out of an image, as a tar (the builder's COPY --from): the image's layers
mounted read-only-in-effect (an overlay with a throwaway upper dir), each asked path
resolved inside that root (symlinks as the container would see them) and tarred
under its own name."""

from __future__ import annotations

import os
import shutil
import tarfile
import uuid
from typing import Iterator

from ..errors import InvalidArgument, NotFound
from ..snapshots.mounts import mount, unmount
from .service import ImageService

_PIECE = 1 << 20


class _Pipe:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def _inside(root: str, path: str) -> str:
    """`path` resolved with `root` as "/", symlinks included, as a host path."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    cur = root
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            cur = os.path.dirname(cur) if cur != root else root
            continue
        nxt = os.path.join(cur, part)
        if os.path.islink(nxt):
            hops += 1
            if hops > 40:
                raise InvalidArgument(f"{path}: too many levels of symbolic links")
            target = os.readlink(nxt)
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            cur = root if target.startswith("/") else cur
            continue
        cur = nxt
    return cur


def export(svc: ImageService, ref: str, paths: list[str]) -> Iterator[bytes]:
    img = svc.get(ref)
    if not img.chain_id:
        raise NotFound(f"{paths[0] if paths else '/'}: no such file or directory (the image is empty)")
    tmp = os.path.join(svc.snapshots.tmp, "export-" + uuid.uuid4().hex)
    key = "active:export-" + uuid.uuid4().hex
    os.makedirs(tmp, mode=0o700)
    root = os.path.join(tmp, "rootfs")
    os.mkdir(root)
    svc.snapshots.prepare(key, img.chain_id)
    try:
        mount(svc.snapshots.mounts(key)[0], root)
        try:
            resolved = []
            for p in paths:
                real = _inside(root, p)
                if not os.path.lexists(real):
                    raise NotFound(f"{p}: no such file or directory")
                resolved.append((real, p.strip("/") or "."))
            pipe = _Pipe()
            tar = tarfile.open(fileobj=pipe, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[arg-type]
            pieces = []
            for real, name in resolved:
                for _dirpath, dirs, files in _walk(real):
                    for entry in dirs + files:
                        rel = os.path.relpath(entry, real)
                        tar.add(entry, name if rel == "." else f"{name}/{rel}", recursive=False)
                    if sum(len(x) for x in pipe.parts) >= _PIECE:
                        pieces.append(pipe.take())
            tar.close()
            pieces.append(pipe.take())
        finally:
            unmount(root)
    finally:
        svc.snapshots.remove(key)
        shutil.rmtree(tmp, ignore_errors=True)
    return iter(pieces)


def _walk(top: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """(dir, [itself first if the top], files) in tar order; the top may be a file."""
    yield top, [top], []
    if os.path.isdir(top) and not os.path.islink(top):
        for dirpath, dirs, files in os.walk(top):
            dirs.sort()
            yield dirpath, [os.path.join(dirpath, d) for d in dirs], [os.path.join(dirpath, f) for f in sorted(files)]
