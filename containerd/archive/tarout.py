"""A tar of one path of a container (docker cp's GET archive) or of its whole root
(export), written as a stream of pieces without buffering whole files.

The walk holds a directory fd per level and opens each entry relative to its parent
with O_NOFOLLOW, regular files with O_NONBLOCK too, and checks what it opened: an
entry the container replaces meanwhile (by a symlink, a FIFO) is skipped or archived
as what it now is, never followed. Entries are sorted by name (Go's Walk order);
sockets are left out, as docker's archiver leaves them; hard links become link entries;
times are whole seconds, owners numeric, as moby writes them. A regular file's data (of
1 MiB or more) is not read here: it is handed on as a Body (its open fd), for the
consumer to splice into its pipe (fifo.py).
"""

from __future__ import annotations

import os
import stat as st
import tarfile
from dataclasses import dataclass
from typing import Callable, Iterator

from .paths import Entry

Owner = Callable[[int, int], tuple[int, int]]
_PIECE = 1 << 20
_BLOCK = 512


@dataclass
class Body:
    """A regular file's data: `size` bytes of `fd` from its start, valid until the
    archive is resumed. Short when the file was truncated meanwhile: the consumer pads."""
    fd: int
    size: int


class _Writer:
    """What is written and not yet handed on, as the parts it came in: a file's data goes
    on as os.read returned it, joined only with the headers before it (one copy at most)."""

    def __init__(self, owner: Owner | None = None) -> None:
        self.owner = owner  # host ids -> the container's (--userns-remap)
        self.parts: list[bytes] = []
        self.size = 0
        self.links: dict[tuple[int, int], str] = {}

    def add(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)

    def take(self) -> bytes:
        parts, self.parts, self.size = self.parts, [], 0
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def header(self, info: tarfile.TarInfo) -> None:
        self.add(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))


def _info(name: str, s: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = st.S_IMODE(s.st_mode)
    info.uid, info.gid = s.st_uid, s.st_gid
    info.mtime = int(s.st_mtime)
    return info


def archive(entry: Entry, export: bool = False, owner: Owner | None = None) -> Iterator[bytes | Body]:
    """The tar of `entry`, named as docker names it: the entry's name, its children under
    it ("/x" under the root, "./x" under "."), or with `export` the root's children alone;
    `owner` maps each entry's uid and gid (a remapped container's, back to its own)."""
    w = _Writer(owner)
    if export:
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=entry.dir_fd)
        try:
            yield from _children(w, fd, "")
        finally:
            os.close(fd)
    else:
        yield from _one(w, entry.dir_fd, entry.base, entry.name, entry.stat)
    w.add(b"\0" * (2 * _BLOCK))
    yield w.take()


def _child_name(prefix: str, name: str) -> str:
    if not prefix:
        return name
    return prefix + name if prefix.endswith("/") else f"{prefix}/{name}"


def _children(w: _Writer, dir_fd: int, prefix: str) -> Iterator[bytes | Body]:
    with os.scandir(dir_fd) as it:
        names = sorted(e.name for e in it)
    for name in names:
        try:
            s = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # removed meanwhile
        yield from _one(w, dir_fd, name, _child_name(prefix, name), s)


def _one(w: _Writer, parent: int, base: str, name: str, s: os.stat_result) -> Iterator[bytes | Body]:
    """One entry (`base` "" = the directory `parent` itself) and, for a directory, its tree."""
    mode = s.st_mode
    info = _info(name, s)
    if w.owner is not None:
        info.uid, info.gid = w.owner(info.uid, info.gid)
    if st.S_ISDIR(mode):
        if base:
            try:
                fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            except OSError:
                return  # replaced meanwhile by something that is not a directory
        else:
            fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=parent)
        try:
            info.type = tarfile.DIRTYPE
            w.header(info)
            yield from _children(w, fd, name)
        finally:
            os.close(fd)
    elif st.S_ISREG(mode):
        key = (s.st_dev, s.st_ino)
        if s.st_nlink > 1 and key in w.links:
            info.type, info.linkname = tarfile.LNKTYPE, w.links[key]
            w.header(info)
        else:
            yield from _file(w, parent, base, info)
            if s.st_nlink > 1:
                w.links[key] = name
    elif st.S_ISLNK(mode):
        try:
            info.linkname = os.readlink(base, dir_fd=parent)
        except OSError:
            return
        info.type = tarfile.SYMTYPE
        w.header(info)
    elif st.S_ISCHR(mode) or st.S_ISBLK(mode) or st.S_ISFIFO(mode):
        info.type = tarfile.CHRTYPE if st.S_ISCHR(mode) else tarfile.BLKTYPE if st.S_ISBLK(mode) else tarfile.FIFOTYPE
        if not st.S_ISFIFO(mode):
            info.devmajor, info.devminor = os.major(s.st_rdev), os.minor(s.st_rdev)
        w.header(info)
    # sockets and anything else: not archived, as docker's archiver
    if w.size >= _PIECE:
        yield w.take()


def _file(w: _Writer, parent: int, base: str, info: tarfile.TarInfo) -> Iterator[bytes | Body]:
    try:
        fd = os.open(base, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent)
    except OSError:
        return  # gone, or swapped for a symlink
    try:
        s = os.fstat(fd)
        if not st.S_ISREG(s.st_mode):
            return  # swapped for a FIFO or a device: never read
        info.type, info.size = tarfile.REGTYPE, s.st_size
        w.header(info)
        if s.st_size < _PIECE:  # small files go with the headers
            left = s.st_size
            while left and (data := os.read(fd, left)):  # a read may be short before the end
                w.add(data)
                left -= len(data)
            if left:  # truncated meanwhile: the header's size is kept, padded
                w.add(bytes(left))
        else:
            if w.size:
                yield w.take()
            yield Body(fd, s.st_size)
        if pad := -info.size % _BLOCK:
            w.add(b"\0" * pad)
    finally:
        os.close(fd)
