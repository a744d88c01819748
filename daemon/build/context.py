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


def _keep_mode(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """tarfile's "tar" filter's path rules (nothing outside `dest`), the modes as sent."""
    checked = tarfile.tar_filter(member, dest)
    return checked.replace(mode=member.mode, deep=False) if member.isreg() or member.isdir() else checked


def _extract(path: str, dest: str) -> None:
    try:
        with tarfile.open(path, "r:*") as tar:
            tar.extractall(dest, filter=_keep_mode)
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
