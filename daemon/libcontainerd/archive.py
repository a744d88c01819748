"""berth-containerd's file RPCs (containerd/archive/): stat, tar out, tar in of a path in
a container, as plain values for daemon/containers/archive.py."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import AsyncIterator

import grpc.aio

from berth.proto import containerd_pb2 as pb

from .client import CALL_TIMEOUT, Containerd, _error

_CHUNK = 1 << 20
_AHEAD = 4  # data messages read from the client before berth-containerd takes them
_SERVICE = pb.DESCRIPTOR.services_by_name["Containers"].full_name
# WriteArchiveRequest.data's key (length-delimited): a data message is encoded by hand,
# its pieces joined once into the wire bytes instead of copied into a message and out again
_DATA_KEY = bytes([pb.WriteArchiveRequest.DESCRIPTOR.fields_by_name["data"].number << 3 | 2])
_CHUNK_DATA_KEY = pb.ArchiveChunk.DESCRIPTOR.fields_by_name["data"].number << 3 | 2


@dataclass
class PathStat:
    name: str
    size: int
    mode: int  # st_mode
    mtime_ns: int
    link_target: str


@dataclass
class ArchiveMount:
    """A host path bound at `destination` in the container's filesystem as cp sees it."""
    destination: str
    source: str
    readonly: bool = False
    recursive: bool = True


def _mounts(mounts: list[ArchiveMount] | None) -> list[pb.ArchiveMount]:
    return [pb.ArchiveMount(destination=m.destination, source=m.source, readonly=m.readonly, recursive=m.recursive)
            for m in mounts or []]


def _stat(m: pb.PathStat) -> PathStat:
    return PathStat(m.name, m.size, m.mode, m.mtime_ns, m.link_target)


async def stat_path(ctrd: Containerd, cid: str, path: str, mounts: list[ArchiveMount] | None = None) -> PathStat:
    return _stat(await ctrd._call(f"stat {path}", ctrd._containers.StatPath(
        pb.PathRequest(id=cid, path=path, mounts=_mounts(mounts)), wait_for_ready=True, timeout=CALL_TIMEOUT)))


def _chunk(raw: bytes) -> pb.ArchiveChunk | bytes:
    """An ArchiveChunk off the wire: one that holds data alone (all but the first) as its
    bytes, sliced out once rather than parsed into a message and copied out of it."""
    if raw and raw[0] == _CHUNK_DATA_KEY:
        size, shift, i = 0, 0, 1
        while i < len(raw) and i <= 10:
            b = raw[i]
            size |= (b & 0x7F) << shift
            i += 1
            if not b & 0x80:
                if i + size == len(raw):
                    return raw[i:]
                break
            shift += 7
    return pb.ArchiveChunk.FromString(raw)


async def read_archive(ctrd: Containerd, cid: str, path: str, export: bool = False,
                       mounts: list[ArchiveMount] | None = None) -> tuple[PathStat, AsyncIterator[bytes]]:
    """The stat (awaited now: a missing path is an error of this call) and the tar."""
    method = ctrd._channel.unary_stream(f"/{_SERVICE}/ReadArchive", request_serializer=pb.PathRequest.SerializeToString,
                                        response_deserializer=_chunk)
    call = method(pb.PathRequest(id=cid, path=path, export=export, mounts=_mounts(mounts)), wait_for_ready=True)
    it = call.__aiter__()
    try:
        first = await it.__anext__()
    except StopAsyncIteration:
        call.cancel()
        raise _error(RuntimeError("empty answer"), f"archive {path}") from None
    except grpc.aio.AioRpcError as e:
        call.cancel()
        raise _error(e, f"archive {path}") from None
    if isinstance(first, bytes):
        call.cancel()
        raise _error(RuntimeError("no stat in the answer"), f"archive {path}")

    async def rest() -> AsyncIterator[bytes]:
        try:
            async for m in it:
                yield m if isinstance(m, bytes) else m.data
        finally:
            call.cancel()

    return _stat(first.stat), rest()


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _data_message(pieces: list[bytes], size: int) -> bytes:
    """WriteArchiveRequest(data=b"".join(pieces)) as it goes on the wire."""
    return b"".join([_DATA_KEY, _varint(size), *pieces])


async def _read_ahead(data: AsyncIterator[bytes], queue: asyncio.Queue[bytes | Exception | None]) -> None:
    """The body read into data messages while earlier ones are on their way, so that the
    client's upload and berth-containerd's extraction overlap instead of taking turns."""
    try:
        buf: list[bytes] = []
        size = 0
        async for piece in data:
            buf.append(piece)
            size += len(piece)
            if size >= _CHUNK:
                await queue.put(_data_message(buf, size))
                buf, size = [], 0
        if buf:
            await queue.put(_data_message(buf, size))
        await queue.put(None)
    except Exception as e:  # noqa: BLE001 - the client's failure, raised where the requests are made
        await queue.put(e)


async def write_archive(ctrd: Containerd, cid: str, path: str, data: AsyncIterator[bytes], *,
                        copy_uid_gid: bool, no_overwrite_dir_non_dir: bool,
                        mounts: list[ArchiveMount] | None = None, readonly_rootfs: bool = False) -> None:
    queue: asyncio.Queue[bytes | Exception | None] = asyncio.Queue(_AHEAD)
    reader = asyncio.get_running_loop().create_task(_read_ahead(data, queue))

    async def requests() -> AsyncIterator[bytes]:
        yield pb.WriteArchiveRequest(id=cid, path=path, copy_uid_gid=copy_uid_gid,
                                     no_overwrite_dir_non_dir=no_overwrite_dir_non_dir, mounts=_mounts(mounts),
                                     readonly_rootfs=readonly_rootfs).SerializeToString()
        while (item := await queue.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item

    # the stub's method with the requests passed as bytes (no serializer: already encoded)
    call = ctrd._channel.stream_unary(f"/{_SERVICE}/WriteArchive", request_serializer=None,
                                      response_deserializer=pb.Empty.FromString)
    try:
        await ctrd._call(f"extract to {path}", call(requests(), wait_for_ready=True, timeout=None))
    finally:
        reader.cancel()
        while not queue.empty():  # grpc's task that takes the requests must not wait on forever
            queue.get_nowait()
        queue.put_nowait(None)
