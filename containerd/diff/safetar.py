"""Extracting one layer tar, streamed, with nothing written outside the snapshot.

Every entry is checked before anything is written: no absolute name, no `..`, no
symlink or hard link whose target leaves the layer, no device node unless allowed.
Parents are opened inside the root (confined.py), the last component is created
relative to them and never followed. OCI whiteouts become overlayfs ones as they
arrive (a 0/0 character device; the opaque xattr), or are dropped for a base layer.
Owners, modes (setuid, sticky), xattrs and times are kept; directory times are set
last, since filling a directory changes its mtime.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile
from collections import deque
from typing import IO, Callable, Iterable

from ..errors import InvalidArgument
from .confined import ConfinedRoot

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_COPY = 1 << 20
# xattrs a layer may not set: overlayfs reads these as its own whiteouts and redirects
_RESERVED_XATTRS = ("trusted.overlay.", "user.overlay.")


class LayerError(InvalidArgument):
    """An entry of the layer that cannot be unpacked safely; str() names it."""


class Feed:
    """The tar's bytes as the pieces they arrive in, read by tarfile (headers: a seekable
    file to it, forward only) and copied to files straight from those pieces, with no
    copy into tarfile's buffers (what made its stream mode slow for big files)."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self._pieces = iter(pieces)
        self._queue: deque[memoryview] = deque()
        self._pos = 0

    @classmethod
    def of(cls, stream: IO[bytes] | Feed) -> Feed:
        if isinstance(stream, Feed):
            return stream
        return cls(iter(lambda: stream.read(_COPY), b""))

    def _more(self) -> bool:
        for piece in self._pieces:
            if piece:
                self._queue.append(memoryview(piece))
                return True
        return False

    def _take(self, size: int) -> memoryview | None:
        """At most `size` bytes, from the first piece; None at the end."""
        if not self._queue and not self._more():
            return None
        head = self._queue[0]
        if len(head) <= size:
            self._queue.popleft()
        else:
            head, self._queue[0] = head[:size], head[size:]
        self._pos += len(head)
        return head

    def read(self, size: int = -1) -> bytes:
        want = size if size >= 0 else 1 << 62
        out = []
        while want > 0 and (view := self._take(want)) is not None:
            out.append(view)
            want -= len(view)
        return b"".join(out)

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        if whence != os.SEEK_SET or pos < self._pos:
            raise tarfile.StreamError("seeking backwards is not allowed")
        while self._pos < pos and self._take(pos - self._pos) is not None:
            pass
        return self._pos

    def copy_to(self, fd: int, size: int) -> None:
        """The next `size` bytes written to `fd`; ReadError if the tar ends first."""
        while size > 0:
            view = self._take(size)
            if view is None:
                raise tarfile.ReadError("unexpected end of data")
            size -= len(view)
            while view:
                view = view[os.write(fd, view):]


def _clean(name: str) -> str:
    """The entry's path relative to the root ("" for the root itself), or LayerError."""
    if name.startswith("/"):
        raise LayerError(f"unpack layer: entry {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LayerError(f"unpack layer: entry {name!r} leaves the layer (\"..\")")
    return "/".join(parts)


def _symlink_ok(rel: str, target: str) -> bool:
    """A relative target must stay inside the layer, seen from the link's directory.
    (An absolute one is resolved inside the container's root, so it cannot leave.)"""
    if target.startswith("/"):
        return True
    depth = rel.count("/")  # directories above the link
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return False
        elif part not in ("", "."):
            depth += 1
    return True


class Extractor:
    """`owner` (docker cp -a) replaces every entry's uid/gid; `keep_kinds` (docker's
    noOverwriteDirNonDir) refuses to replace a directory by a non-directory or back."""

    def __init__(self, dest: str, has_parent: bool, allow_devices: bool,
                 owner: tuple[int, int] | None = None, keep_kinds: bool = False) -> None:
        self.root = ConfinedRoot(dest)
        self.has_parent = has_parent
        self.allow_devices = allow_devices
        self.owner = owner
        self.shift: Callable[[int, int], tuple[int, int]] | None = None  # container ids -> host (userns)
        self.keep_kinds = keep_kinds
        self._dir_times: list[tuple[str, int, int]] = []
        self.is_root = os.geteuid() == 0

    def _ids(self, info: tarfile.TarInfo) -> tuple[int, int]:
        ids = self.owner if self.owner is not None else (info.uid, info.gid)
        return self.shift(*ids) if self.shift is not None else ids

    def run(self, stream: IO[bytes] | Feed) -> None:
        self._feed = feed = Feed.of(stream)
        try:
            with tarfile.TarFile(fileobj=feed, mode="r") as tar:  # type: ignore[arg-type]
                for info in tar:
                    try:
                        self._entry(tar, info)
                    except OSError as e:
                        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
                            raise
                        raise LayerError(f"unpack layer: entry {info.name!r}: {e.strerror or e}") from None
            for rel, atime, mtime in reversed(self._dir_times):  # deepest last-made first
                fd = self.root.open_dir(rel)
                try:
                    os.utime(fd, ns=(atime, mtime))
                finally:
                    os.close(fd)
        except tarfile.TarError as e:
            raise LayerError(f"unpack layer: bad tar stream: {e}") from None
        except (EOFError, OSError) as e:
            if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise LayerError(f"unpack layer: {e}") from None
        finally:
            self.root.close()

    # ----------------------------------------------------------------- entries
    def _entry(self, tar: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        rel = _clean(info.name)
        parent_rel, _, name = rel.rpartition("/")
        if name.startswith(WHITEOUT):
            self._whiteout(parent_rel, name)
            return
        if not rel:
            if info.isdir():
                self._dir_attrs("", info)
            return
        if info.issym() and not _symlink_ok(rel, info.linkname):
            raise LayerError(f"unpack layer: symlink {info.name!r} -> {info.linkname!r} leaves the layer")
        if (info.ischr() or info.isblk()) and not self.allow_devices:
            raise LayerError(f"unpack layer: device node {info.name!r} is not allowed here")
        if not (info.isreg() or info.isdir() or info.issym() or info.islnk() or info.ischr()
                or info.isblk() or info.isfifo()):
            raise LayerError(f"unpack layer: entry {info.name!r} has an unsupported type {info.type!r}")
        parent = self.root.dir(parent_rel)
        if info.isdir():
            self._make_dir(parent, name, rel, info)
            return
        self._replace(parent, name, rel)
        if info.isreg():
            self._file(tar, info, parent, name)
        elif info.issym():
            os.symlink(info.linkname, name, dir_fd=parent)
            self._owner_and_times(parent, name, info)
        elif info.islnk():
            self._hardlink(info, parent, name)
        else:
            kind = stat.S_IFCHR if info.ischr() else stat.S_IFBLK if info.isblk() else stat.S_IFIFO
            os.mknod(name, kind | (info.mode & 0o7777), os.makedev(info.devmajor, info.devminor), dir_fd=parent)
            self._owner_and_times(parent, name, info)
            os.chmod(name, info.mode & 0o7777, dir_fd=parent)  # chown dropped setuid bits

    def _whiteout(self, parent_rel: str, name: str) -> None:
        if not self.has_parent:
            return  # nothing below a base layer to hide
        if name == OPAQUE:
            self.root.dir(parent_rel)  # made if the layer did not list it
            fd = self.root.open_dir(parent_rel)
            try:
                os.setxattr(fd, "trusted.overlay.opaque", b"y")
            finally:
                os.close(fd)
            return
        hidden = name[len(WHITEOUT):]
        if not hidden or hidden in (".", ".."):
            raise LayerError(f"unpack layer: bad whiteout {name!r}")
        parent = self.root.dir(parent_rel)
        self._replace(parent, hidden)
        os.mknod(hidden, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent)

    def _replace(self, parent: int, name: str, rel: str = "") -> None:
        """A later entry wins: whatever the layer put at `name` before goes."""
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return
        if self.keep_kinds and rel and stat.S_ISDIR(st.st_mode):
            raise LayerError(f"unpack layer: cannot overwrite directory {rel!r} with non-directory")
        self.root.forget()
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=parent)  # fd-based: never follows a symlink out
        else:
            os.unlink(name, dir_fd=parent)

    def _make_dir(self, parent: int, name: str, rel: str, info: tarfile.TarInfo) -> None:
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                if self.keep_kinds:
                    raise LayerError(f"unpack layer: cannot overwrite non-directory {rel!r} with directory")
                self._replace(parent, name)
                os.mkdir(name, 0o700, dir_fd=parent)
        except FileNotFoundError:
            os.mkdir(name, 0o700, dir_fd=parent)
        self._dir_attrs(rel, info)

    def _dir_attrs(self, rel: str, info: tarfile.TarInfo) -> None:
        fd = self.root.open_dir(rel)
        try:
            if self.is_root:
                os.fchown(fd, *self._ids(info))
            os.fchmod(fd, info.mode & 0o7777)
            self._xattrs(fd, info)
        finally:
            os.close(fd)
        mtime = int(info.mtime * 1e9)
        self._dir_times.append((rel, _atime(info, mtime), mtime))

    def _file(self, tar: tarfile.TarFile, info: tarfile.TarInfo, parent: int, name: str) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=parent)
        try:
            if info.sparse is None:
                self._feed.seek(info.offset_data)
                self._feed.copy_to(fd, info.size)
            elif (src := tar.extractfile(info)) is not None:  # GNU sparse: tarfile knows its map
                while chunk := src.read(_COPY):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
            if self.is_root:
                os.fchown(fd, *self._ids(info))
            os.fchmod(fd, info.mode & 0o7777)
            self._xattrs(fd, info)
            mtime = int(info.mtime * 1e9)
            os.utime(fd, ns=(_atime(info, mtime), mtime))
        finally:
            os.close(fd)

    def _hardlink(self, info: tarfile.TarInfo, parent: int, name: str) -> None:
        target = info.linkname.lstrip("/")  # a link target names an entry of this archive
        try:
            target_rel = _clean(target)
        except LayerError:
            raise LayerError(f"unpack layer: hard link {info.name!r} -> {info.linkname!r} leaves the layer") from None
        t_parent_rel, _, t_name = target_rel.rpartition("/")
        if not t_name:
            raise LayerError(f"unpack layer: hard link {info.name!r} -> {info.linkname!r} names the root")
        try:
            t_parent = self.root.dir(t_parent_rel)
            os.link(t_name, name, src_dir_fd=t_parent, dst_dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            raise LayerError(f"unpack layer: hard link {info.name!r} -> {info.linkname!r}: "
                             "target is not in the layer") from None

    def _owner_and_times(self, parent: int, name: str, info: tarfile.TarInfo) -> None:
        if self.is_root:
            os.chown(name, *self._ids(info), dir_fd=parent, follow_symlinks=False)
        mtime = int(info.mtime * 1e9)
        os.utime(name, ns=(_atime(info, mtime), mtime), dir_fd=parent, follow_symlinks=False)

    @staticmethod
    def _xattrs(fd: int, info: tarfile.TarInfo) -> None:
        for key, value in info.pax_headers.items():
            if not key.startswith("SCHILY.xattr."):
                continue
            attr = key[len("SCHILY.xattr."):]
            if attr.startswith(_RESERVED_XATTRS):
                continue
            try:
                os.setxattr(fd, attr, value.encode("utf-8", "surrogateescape"))
            except OSError as e:
                if e.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise


def _atime(info: tarfile.TarInfo, mtime_ns: int) -> int:
    raw = info.pax_headers.get("atime")
    try:
        return int(float(raw) * 1e9) if raw else mtime_ns
    except ValueError:
        return mtime_ns
