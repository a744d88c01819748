"""An overlayfs upper dir as an OCI layer: the tar of what changed, with whiteouts.

overlayfs marks a deleted path as a 0:0 character device and a directory that hides
everything below it (rm -rf then mkdir) with the `trusted.overlay.opaque` xattr; the
OCI layer format says the same with `.wh.NAME` and `DIR/.wh..wh..opq` entries. The
tar is written sorted by name (the same tree makes the same diff id), hard links
within the upper dir stay links, overlayfs's own xattrs are left out. The stream is
gzip-compressed into the content store while the uncompressed bytes are hashed for
the diff id: one pass over the files. A builder's layer is stored as the plain tar
(its digest is its diff id), as dockerd's builder never compresses at build time:
gzip of a large layer was most of a RUN step's cost.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
import zlib
from dataclasses import dataclass
from typing import IO, Callable

from ..content import ContentStore
from .safetar import OPAQUE, WHITEOUT
from .upper import walk_upper

_COPY = 1 << 20
_OVERLAY_XATTRS = ("trusted.overlay.", "user.overlay.")
# Fast enough to keep up with the disk; a registry push recompresses nothing.
GZIP_LEVEL = 1
Owner = Callable[[int, int], tuple[int, int]]


@dataclass
class Layer:
    digest: str     # the blob in the content store (gzip, or the plain tar)
    size: int       # its size
    diff_id: str    # sha256 of the uncompressed tar


class _Sink:
    """A file object for tarfile: hashes the tar, gzips it (or not) into a content writer."""

    def __init__(self, store: ContentStore, compress: bool) -> None:
        self.writer = store.writer()
        self.diff = hashlib.sha256() if compress else None  # plain: the writer's own hash is the diff id
        self.zip = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if compress else None
        self.offset = 0

    def write(self, data: bytes) -> int:
        self.offset += len(data)
        if self.zip is None:
            self.writer.write(data)
            return len(data)
        assert self.diff is not None
        self.diff.update(data)
        out = self.zip.compress(data)
        if out:
            self.writer.write(out)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def finish(self) -> Layer:
        if self.zip is not None:
            self.writer.write(self.zip.flush())
        digest, size = self.writer.commit()
        return Layer(digest, size, digest if self.diff is None else "sha256:" + self.diff.hexdigest())


def _xattrs(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for name in names:
        if name.startswith(_OVERLAY_XATTRS):
            continue
        try:
            out["SCHILY.xattr." + name] = os.getxattr(path, name, follow_symlinks=False).decode(
                "utf-8", "surrogateescape")
        except OSError:
            continue
    return out


class _Writer:
    def __init__(self, root: str, out: IO[bytes], owner: Owner | None = None) -> None:
        self.root = root
        self.owner = owner  # host ids -> the layer's (a remapped container's upper dir)
        # "w", not the stream mode "w|": its buffer is appended to and sliced per 16 KB
        # piece (quadratic in its size); this one writes straight through, 1 MB reads.
        self.tar = tarfile.TarFile(fileobj=out, mode="w", format=tarfile.PAX_FORMAT, copybufsize=_COPY)
        self.links: dict[tuple[int, int], str] = {}

    def walk(self) -> None:
        for e in walk_upper(self.root):  # diff/upper.py: the walk changes.py shares
            if e.whiteout:
                rel, _, name = e.rel.rpartition("/")
                self._add(tarfile.TarInfo(_join(rel, WHITEOUT + name)), None)
                continue
            self._entry(e.rel, e.full, e.st)
            if e.opaque:
                self._add(tarfile.TarInfo(f"{e.rel}/{OPAQUE}"), None)

    def _entry(self, rel: str, full: str, st: os.stat_result) -> None:
        info = tarfile.TarInfo(rel + ("/" if stat.S_ISDIR(st.st_mode) else ""))
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = self.owner(st.st_uid, st.st_gid) if self.owner else (st.st_uid, st.st_gid)
        info.mtime = st.st_mtime
        info.uname = info.gname = ""
        info.pax_headers = _xattrs(full)
        src = None
        if stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(st.st_mode):
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(full)
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                info.type, info.linkname = tarfile.LNKTYPE, self.links[key]
            else:
                self.links[key] = rel
                info.type, info.size = tarfile.REGTYPE, st.st_size
                src = open(full, "rb")  # noqa: SIM115 - closed below
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(st.st_mode):
            info.type = tarfile.FIFOTYPE
        else:
            return  # sockets have no tar form
        try:
            self._add(info, src)
        finally:
            if src is not None:
                src.close()

    def _add(self, info: tarfile.TarInfo, src: IO[bytes] | None) -> None:
        if info.type == tarfile.REGTYPE and not info.name.endswith("/") and src is None:
            info.size = 0  # a whiteout marker: an empty regular file
        self.tar.addfile(info, src)

    def close(self) -> None:
        self.tar.close()


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def write_layer(upper: str, store: ContentStore, compress: bool = True, owner: Owner | None = None) -> Layer:
    """The upper dir `upper` as a layer blob in `store` (digest, size, diff id): gzip,
    or with `compress` false the plain tar (media type ...layer.v1.tar); `owner` maps
    each entry's uid and gid (a remapped container's, back to the image's)."""
    sink = _Sink(store, compress)
    try:
        w = _Writer(upper, sink, owner)  # type: ignore[arg-type]
        w.walk()
        w.close()
        return sink.finish()
    except BaseException:
        sink.writer.abort()
        raise


def strip_overlay_xattrs(root: str) -> None:
    """An upper dir about to serve as a committed (lower) layer keeps only the opaque
    marker: origin and impure xattrs describe the mount it came from."""
    for dirpath, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            full = os.path.join(dirpath, name)
            try:
                attrs = os.listxattr(full, follow_symlinks=False)
            except OSError:
                continue
            for a in attrs:
                if a.startswith("trusted.overlay.") and a != "trusted.overlay.opaque":
                    try:
                        os.removexattr(full, a, follow_symlinks=False)
                    except OSError:
                        pass
