"""berth-containerd's file RPCs (containerd/archive/): stat, tar out, tar in of a path in
a container, as plain values for daemon/containers/archive.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator

import grpc.aio

from berth.proto import containerd_pb2 as pb

from .client import CALL_TIMEOUT, Containerd, _error

_CHUNK = 1 << 20


@dataclass
class PathStat:
    name: str
    size: int
    mode: int  # st_mode
    mtime_ns: int
    link_target: str


def _stat(m: pb.PathStat) -> PathStat:
    return PathStat(m.name, m.size, m.mode, m.mtime_ns, m.link_target)


async def stat_path(ctrd: Containerd, cid: str, path: str) -> PathStat:
    return _stat(await ctrd._call(f"stat {path}", ctrd._containers.StatPath(
        pb.PathRequest(id=cid, path=path), wait_for_ready=True, timeout=CALL_TIMEOUT)))


async def read_archive(ctrd: Containerd, cid: str, path: str, export: bool = False
                       ) -> tuple[PathStat, AsyncIterator[bytes]]:
    """The stat (awaited now: a missing path is an error of this call) and the tar."""
    call = ctrd._containers.ReadArchive(pb.PathRequest(id=cid, path=path, export=export), wait_for_ready=True)
    it = call.__aiter__()
    try:
        first = await it.__anext__()
    except StopAsyncIteration:
        call.cancel()
        raise _error(RuntimeError("empty answer"), f"archive {path}") from None
    except grpc.aio.AioRpcError as e:
        call.cancel()
        raise _error(e, f"archive {path}") from None

    async def rest() -> AsyncIterator[bytes]:
        try:
            async for m in it:
                yield m.data
        finally:
            call.cancel()

    return _stat(first.stat), rest()


async def write_archive(ctrd: Containerd, cid: str, path: str, data: AsyncIterator[bytes], *,
                        copy_uid_gid: bool, no_overwrite_dir_non_dir: bool) -> None:
    async def requests() -> AsyncIterator[pb.WriteArchiveRequest]:
        yield pb.WriteArchiveRequest(id=cid, path=path, copy_uid_gid=copy_uid_gid,
                                     no_overwrite_dir_non_dir=no_overwrite_dir_non_dir)
        buf: list[bytes] = []
        size = 0
        async for piece in data:
            buf.append(piece)
            size += len(piece)
            if size >= _CHUNK:
                yield pb.WriteArchiveRequest(data=b"".join(buf))
                buf, size = [], 0
        if buf:
            yield pb.WriteArchiveRequest(data=b"".join(buf))

    await ctrd._call(f"extract to {path}", ctrd._containers.WriteArchive(requests(), wait_for_ready=True, timeout=None))
