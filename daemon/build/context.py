"""The build context: the request body (a tar, plain or gzip/bzip2/xz) unpacked into
a scratch directory of the daemon's; names that would leave it are refused."""

from __future__ import annotations

import asyncio
import os
import shutil
import tarfile
import tempfile
from typing import AsyncIterator

from ..http.errors import bad_request


def _extract(path: str, dest: str) -> None:
    """Names, types, modes and contents only (COPY gives files root's ownership and the
    cache ignores times): several times quicker than tarfile's extractall. A name with
    `..` or one under a symlink of the archive is refused, so nothing lands outside."""
    dirs, links = {""}, set()
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                parts = [p for p in m.name.split("/") if p not in ("", ".")]
                if not parts:
                    continue
                if ".." in parts:
                    raise bad_request(f"the build context has an entry outside it: {m.name}")
                for n in range(1, len(parts)):
                    parent = "/".join(parts[:n])
                    if parent in links:
                        raise bad_request(f"the build context has an entry under a symlink: {m.name}")
                    if parent not in dirs:
                        os.makedirs(os.path.join(dest, parent), exist_ok=True)
                        dirs.add(parent)
                rel = "/".join(parts)
                full = os.path.join(dest, rel)
                if m.isdir():
                    if rel not in dirs:
                        os.makedirs(full, exist_ok=True)
                        dirs.add(rel)
                    os.chmod(full, m.mode & 0o7777)
                elif m.issym():
                    os.symlink(m.linkname, full)
                    links.add(rel)
                elif m.isreg():
                    src = tar.extractfile(m)
                    fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
                    try:
                        while src is not None and (chunk := src.read(1 << 20)):
                            os.write(fd, chunk)
                        os.fchmod(fd, m.mode & 0o7777)
                    finally:
                        os.close(fd)
                elif m.islnk():
                    target = "/".join(p for p in m.linkname.split("/") if p not in ("", "."))
                    if ".." in target.split("/") or target not in m.name and not os.path.isfile(
                            os.path.join(dest, target)):
                        raise bad_request(f"the build context has a bad hard link: {m.name}")
                    os.link(os.path.join(dest, target), full)
    except (tarfile.TarError, EOFError) as e:
        raise bad_request(f"the build context is not a valid tar archive: {e}") from None


async def receive(body: AsyncIterator[bytes], parent: str) -> str:
    """The context directory (the caller removes it)."""
    os.makedirs(parent, mode=0o700, exist_ok=True)
    work = tempfile.mkdtemp(prefix="build-", dir=parent)
    archive = os.path.join(work, "context.tar")
    root = os.path.join(work, "context")
    os.mkdir(root)
    try:
        with open(archive, "wb") as f:
            async for piece in body:
                f.write(piece)
        if os.path.getsize(archive):
            await asyncio.to_thread(_extract, archive, root)
        os.unlink(archive)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return root


def remove(root: str) -> None:
    shutil.rmtree(os.path.dirname(root), ignore_errors=True)
