"""docker cp and export, on berthd's side: the API's shapes over berth-containerd's file
RPCs (containerd/archive/ reads and writes inside the container's root, running or not).

dockerd's rules kept here: the path stat is base64 JSON {name, size, mode, mtime,
linkTarget} with Go's os.FileMode bits and an RFC 3339 mtime; a missing path is 404
"Could not find the file P in container REF" (REF as the client named it); a read-only
rootfs refuses PUT unless the path is in a volume, a read-only volume or bind does;
the path is seen with the container's volumes, binds and /etc files where they are
mounted (not its tmpfs, as dockerd's view), export is of the rootfs alone; events
archive-path, extract-to-dir, export. A tar's stream holds a FIFO and berth-containerd's
mount of the container's files: it is closed however its response ends (TarResponse).
"""

from __future__ import annotations

import base64
import json
import os
import stat as st
import time
from typing import TYPE_CHECKING, Any

from fastapi.responses import StreamingResponse

from ..http.errors import ApiError, bad_request
from ..libcontainerd import ContainerdError
from ..libcontainerd import archive as rpc
from .store import Container

if TYPE_CHECKING:
    from .service import Engine

# Go's os.FileMode type bits
_GO_DIR, _GO_SYMLINK, _GO_DEVICE, _GO_PIPE, _GO_SOCKET = 1 << 31, 1 << 27, 1 << 26, 1 << 25, 1 << 24
_GO_SETUID, _GO_SETGID, _GO_CHARDEV, _GO_STICKY = 1 << 23, 1 << 22, 1 << 21, 1 << 20


def go_mode(mode: int) -> int:
    """st_mode as Go's os.FileMode, which docker's stat header carries."""
    out = mode & 0o777
    kind = st.S_IFMT(mode)
    out |= {st.S_IFDIR: _GO_DIR, st.S_IFLNK: _GO_SYMLINK, st.S_IFBLK: _GO_DEVICE, st.S_IFIFO: _GO_PIPE,
            st.S_IFSOCK: _GO_SOCKET, st.S_IFCHR: _GO_DEVICE | _GO_CHARDEV}.get(kind, 0)
    if mode & st.S_ISUID:
        out |= _GO_SETUID
    if mode & st.S_ISGID:
        out |= _GO_SETGID
    if mode & st.S_ISVTX:
        out |= _GO_STICKY
    return out


def _mtime(ns: int) -> str:
    """Go's time.Time in JSON: RFC 3339 with the fraction's trailing zeros dropped."""
    secs, frac = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    digits = f"{frac:09d}".rstrip("0")
    return text + (f".{digits}" if digits else "") + "Z"


def stat_header(s: rpc.PathStat) -> str:
    doc = {"name": s.name, "size": s.size, "mode": go_mode(s.mode), "mtime": _mtime(s.mtime_ns),
           "linkTarget": s.link_target}
    return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def _check(path: str) -> None:
    if not path:
        raise bad_request("bad parameter: pathcannot be empty")  # sic: dockerd's words


def _usable(c: Container) -> None:
    if c.state.status in ("removing", "dead"):
        raise ApiError(409, f"container {c.id} is {'being removed' if c.state.status == 'removing' else 'dead'}")


def _mounts(engine: Engine, c: Container) -> list[rpc.ArchiveMount]:
    """What dockerd binds on its view of the container's files: the /etc files, then its
    volumes and binds (a parent before what goes inside it); tmpfs mounts are left out."""
    points = [mp for mp in engine.volumes.points_of(c.id) if mp.type in ("volume", "bind") and mp.source]
    dests = {mp.destination for mp in points}
    cdir = engine.store.dir_of(c.id)
    out = [rpc.ArchiveMount(f"/etc/{name}", os.path.join(cdir, name)) for name in ("resolv.conf", "hostname", "hosts")
           if f"/etc/{name}" not in dests and os.path.exists(os.path.join(cdir, name))]
    for mp in points:  # the view binds them parents first (containerd/archive/view.py)
        out.append(rpc.ArchiveMount(mp.destination, mp.source, readonly=not mp.rw, recursive=mp.recursive))
    return out


def _failed(e: ContainerdError, path: str, ref: str) -> ApiError:
    if e.not_found and e.detail.startswith("no such file"):
        return ApiError(404, f"Could not find the file {path} in container {ref}")
    return ApiError(e.status, e.detail if not e.unreachable else e.message)


async def stat(engine: Engine, c: Container, ref: str, path: str) -> str:
    """HEAD: the X-Docker-Container-Path-Stat value."""
    _check(path)
    _usable(c)
    try:
        return stat_header(await rpc.stat_path(engine.ctrd, c.id, path, _mounts(engine, c)))
    except ContainerdError as e:
        raise _failed(e, path, ref) from None


class TarResponse(StreamingResponse):
    """A tar from read_archive, its stream closed once the response ends however it does:
    also when Starlette never iterated it (a client gone before the first read)."""

    media_type = "application/x-tar"
    body_iterator: rpc.TarStream

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()


def _announced(engine: Engine, c: Container, action: str, data: rpc.TarStream) -> None:
    try:
        engine.events.container(c, action)
    except BaseException:
        data.close()
        raise


async def get(engine: Engine, c: Container, ref: str, path: str) -> tuple[str, rpc.TarStream]:
    _check(path)
    _usable(c)
    try:
        s, data = await rpc.read_archive(engine.ctrd, c.id, path, mounts=_mounts(engine, c))
    except ContainerdError as e:
        raise _failed(e, path, ref) from None
    _announced(engine, c, "archive-path", data)
    return stat_header(s), data


async def put(engine: Engine, c: Container, ref: str, path: str, body: rpc.BodyWriter, *,
              copy_uid_gid: bool, no_overwrite_dir_non_dir: bool) -> None:
    _check(path)
    _usable(c)
    try:
        await rpc.write_archive(engine.ctrd, c.id, path, body, copy_uid_gid=copy_uid_gid,
                                no_overwrite_dir_non_dir=no_overwrite_dir_non_dir, mounts=_mounts(engine, c),
                                readonly_rootfs=bool(c.host_config.get("ReadonlyRootfs")))
    except ContainerdError as e:
        raise _failed(e, path, ref) from None
    engine.events.container(c, "extract-to-dir")


async def export(engine: Engine, c: Container) -> rpc.TarStream:
    _usable(c)
    try:
        _, data = await rpc.read_archive(engine.ctrd, c.id, "/", export=True)
    except ContainerdError as e:
        raise ApiError(e.status, e.detail if not e.unreachable else e.message) from None
    _announced(engine, c, "export", data)
    return data
