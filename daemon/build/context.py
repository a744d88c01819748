"""The build context: the request body (a tar, plain or gzip/bzip2/xz) kept as it came
and indexed while it arrives (index.py: every file hashed once, names that would leave
the context refused), then unpacked into a scratch directory of the daemon's only when
a step needs its files: a rebuild whose steps all come from the cache writes none."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import shutil
import tarfile
import tempfile
import threading
from dataclasses import dataclass, field
from typing import AsyncIterator

from ..http.errors import bad_request
from .index import Bad, Feed, Index, build_index, checked_parts


@dataclass
class Context:
    work: str                 # the scratch directory: the archive, the files, the steps' own
    archive: str
    root: str                 # the files, once unpacked()
    index: Index
    dropped: set[str] = field(default_factory=set)   # read but not copied (dockerd's removeDockerfile)
    _unpacked: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def drop(self, rel: str) -> None:
        """Left out of the build's files, whether they are on disk yet or not."""
        self.index.drop(rel)
        with self._lock:
            self.dropped.add(rel)
            if self._unpacked:  # read through a link before: unpacked already
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.root, rel))

    def unpack(self) -> str:
        """The files on disk (once per build); returns the root."""
        with self._lock:
            if not self._unpacked:
                if os.path.getsize(self.archive):
                    _extract(self.archive, self.root)
                for rel in self.dropped:
                    try:
                        os.unlink(os.path.join(self.root, rel))
                    except FileNotFoundError:
                        pass
                self._unpacked = True
        return self.root


def _extract(path: str, dest: str) -> None:
    """Names, types, modes and contents only (COPY gives files root's ownership and the
    cache ignores times): several times quicker than tarfile's extractall. A name with
    `..` or one under a symlink of the archive is refused, so nothing lands outside."""
    dirs, links = {""}, set()
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                try:
                    parts = checked_parts(m.name, links)
                except Bad as e:
                    raise bad_request(str(e)) from None
                if not parts:
                    continue
                for n in range(1, len(parts)):
                    parent = "/".join(parts[:n])
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


def _index(feed: Feed, keep: frozenset[str]) -> Index:
    try:
        return build_index(feed, keep)
    except Bad as e:
        raise bad_request(str(e)) from None
    except (tarfile.TarError, EOFError) as e:
        raise bad_request(f"the build context is not a valid tar archive: {e}") from None
    finally:
        feed.drain()


async def receive(body: AsyncIterator[bytes], parent: str, keep: frozenset[str] = frozenset()) -> Context:
    """The context, indexed as it arrives; the contents of the files named in `keep`
    (the Dockerfile, .dockerignore) are in its index. The caller removes it."""
    os.makedirs(parent, mode=0o700, exist_ok=True)
    work = tempfile.mkdtemp(prefix="build-", dir=parent)
    archive = os.path.join(work, "context.tar")
    root = os.path.join(work, "context")
    os.mkdir(root)
    try:
        with open(archive, "wb") as f:
            feed = Feed(f)
            indexing = asyncio.ensure_future(asyncio.to_thread(_index, feed, keep))
            try:
                async for piece in body:
                    if piece:
                        try:
                            feed.pieces.put_nowait(piece)
                        except queue.Full:
                            await asyncio.to_thread(feed.pieces.put, piece)
            finally:
                await asyncio.to_thread(feed.pieces.put, None)
                idx = await indexing
        return Context(work, archive, root, idx)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def remove(ctx: Context) -> None:
    shutil.rmtree(ctx.work, ignore_errors=True)
