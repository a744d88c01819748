"""The build context's index, made while it is uploaded: each entry's type, mode and
(for a file) sha256, read from the tar stream as it arrives, so the context is hashed
once, in parallel with the upload, and never written out file by file unless a step
needs the files (a COPY that misses the cache).

`content_key` is what a COPY's cache key needs from the context: a hash of everything
under its sources. It answers None whenever only the files on disk can say (globs,
symlinks on the way, sources that are not there): those steps take the disk's path.
"""

from __future__ import annotations

import bisect
import hashlib
import posixpath
import queue
import tarfile
from dataclasses import dataclass, field
from typing import IO

_PIECE = 1 << 20


@dataclass
class Entry:
    kind: str           # "f" file, "d" directory, "l" symlink, "h" hard link
    mode: int
    digest: str = ""    # a file's (or a hard link's target's) sha256
    link: str = ""      # a symlink's or hard link's target


@dataclass
class Index:
    entries: dict[str, Entry] = field(default_factory=dict)   # normalised relative path -> entry
    kept: dict[str, bytes] = field(default_factory=dict)      # the contents of the files asked for
    _names: list[str] | None = None

    def drop(self, rel: str) -> None:
        self.entries.pop(rel, None)
        self.kept.pop(rel, None)
        self._names = None

    def under(self, rel: str) -> list[str]:
        """`rel` and every name below it, sorted ("." = everything)."""
        if self._names is None:
            self._names = sorted(self.entries)
        names = self._names
        if rel == ".":
            return names
        lo = bisect.bisect_left(names, rel + "/")
        hi = bisect.bisect_left(names, rel + "0")  # "0" follows "/"
        return [rel, *names[lo:hi]] if rel in self.entries else names[lo:hi]


class Feed:
    """The request body's pieces as a file object for the indexing thread; each piece
    is also written to the archive, which a later extraction reads."""

    def __init__(self, archive: IO[bytes]) -> None:
        self.pieces: queue.Queue[bytes | None] = queue.Queue(maxsize=64)
        self.archive = archive
        self.buf = bytearray()
        self.eof = False
        self.seen = 0

    def read(self, n: int = -1) -> bytes:
        while not self.eof and (n < 0 or len(self.buf) < n):
            piece = self.pieces.get()
            if piece is None:
                self.eof = True
                break
            self.archive.write(piece)
            self.seen += len(piece)
            self.buf += piece
        n = len(self.buf) if n < 0 else min(n, len(self.buf))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def drain(self) -> None:
        """The rest of the body into the archive (after the tar's end, or a failure)."""
        self.read(-1)


def parts_of(name: str) -> list[str]:
    return [p for p in name.split("/") if p not in ("", ".")]


class Bad(Exception):
    """An entry the context must not have (the message says which)."""


def checked_parts(name: str, links: set[str]) -> list[str]:
    """An entry's path parts; Bad if it has `..` or lies under one of the archive's
    symlinks (`links`), so that nothing it names lands outside the context."""
    parts = parts_of(name)
    if ".." in parts:
        raise Bad(f"the build context has an entry outside it: {name}")
    if any("/".join(parts[:n]) in links for n in range(1, len(parts))):
        raise Bad(f"the build context has an entry under a symlink: {name}")
    return parts


def build_index(feed: Feed, keep: frozenset[str]) -> Index:
    """Reads the whole tar from `feed`; raises Bad, or tarfile's errors for a broken one."""
    idx = Index()
    head = feed.read(_PIECE)
    if not head:
        return idx
    feed.buf[:0] = head  # put back: tarfile reads it again
    links: set[str] = set()
    with tarfile.open(fileobj=feed, mode="r|*") as tar:  # type: ignore[call-overload]
        for m in tar:
            parts = checked_parts(m.name, links)
            if not parts:
                continue
            for n in range(1, len(parts)):  # made by makedirs: no mode of their own
                idx.entries.setdefault("/".join(parts[:n]), Entry("d", -1))
            rel = "/".join(parts)
            mode = m.mode & 0o7777
            if m.isdir():
                idx.entries[rel] = Entry("d", mode)
            elif m.issym():
                idx.entries[rel] = Entry("l", mode, link=m.linkname)
                links.add(rel)
            elif m.isreg():
                src = tar.extractfile(m)
                h = hashlib.sha256()
                data = bytearray() if rel in keep else None
                while src is not None and (chunk := src.read(_PIECE)):
                    h.update(chunk)
                    if data is not None:
                        data += chunk
                idx.entries[rel] = Entry("f", mode, h.hexdigest())
                if data is not None:
                    idx.kept[rel] = bytes(data)
            elif m.islnk():
                target = "/".join(parts_of(m.linkname))
                got = idx.entries.get(target)
                if ".." in target.split("/") or target not in m.name and (got is None or got.kind not in "fh"):
                    raise Bad(f"the build context has a bad hard link: {m.name}")
                idx.entries[rel] = Entry("h", mode, got.digest if got else "", target)
    feed.drain()
    return idx


def content_key(idx: Index, srcs: list[str]) -> str | None:
    """A hash of the names, types, modes and contents under each source, or None when
    the disk must decide (the caller then extracts the context and hashes the files)."""
    h = hashlib.sha256()
    for src in srcs:
        rel = posixpath.normpath(src.lstrip("/")) if src.strip("/") else "."
        if rel == ".." or rel.startswith("../") or any(c in rel for c in "*?[\\"):
            return None
        if rel != ".":
            parts = rel.split("/")
            for n in range(1, len(parts)):
                e = idx.entries.get("/".join(parts[:n]))
                if e is None or e.kind != "d":
                    return None
            e = idx.entries.get(rel)
            if e is None or e.kind == "l":
                return None
        h.update(f"source {rel}\n".encode())
        for name in idx.under(rel):
            e = idx.entries[name]
            h.update(f"{name}\0{e.kind}\0{e.mode:o}\0{e.link}\0{e.digest}\n".encode())
    return h.hexdigest()
