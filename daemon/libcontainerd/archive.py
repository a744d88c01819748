"""berth-containerd's file RPCs (containerd/archive/): stat, tar out, tar in of a path in
a container, as plain values for daemon/containers/archive.py. The tar itself goes
through a FIFO (fifo.py), not through gRPC messages: Python's gRPC copies and handles
every message in Python on both ends, which made it most of docker cp's time."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Awaitable, Callable

import grpc.aio

from berth.proto import containerd_pb2 as pb

from .client import CALL_TIMEOUT, Containerd, _error
from .fifo import Fifo

# Writes a request's whole body into a pipe's (non-blocking) write end: cp in's body
# (berthd's HTTP layer makes one: http/rawbody.py's writer)
BodyWriter = Callable[[int], Awaitable[None]]


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


def _fifo_dir(ctrd: Containerd) -> str:
    return os.path.dirname(ctrd.address) or "."


class TarStream:
    """read_archive's tar, read from the FIFO, as an async iterator whose aclose releases
    the FIFO and cancels the call whether or not the iteration began: an async
    generator's finally runs only once it has started, and a response that never reads
    (its client left first) or a caller that fails after read_archive would leave
    berth-containerd blocked on a full pipe with the container's files mounted."""

    def __init__(self, pipe: Fifo, call: grpc.aio.UnaryStreamCall, path: str) -> None:
        self._pipe = pipe
        self._call = call
        self._path = path
        self._closed = False

    def __aiter__(self) -> TarStream:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        try:
            if data := await self._pipe.read():
                return data
            await self._status()
        except BaseException:
            self.close()
            raise
        self.close()
        raise StopAsyncIteration

    async def _status(self) -> None:
        """The stream's end: its status says whether the tar was all of it."""
        try:
            while await self._call.read() is not grpc.aio.EOF:
                pass
        except grpc.aio.AioRpcError as e:
            raise _error(e, f"archive {self._path}") from None

    def close(self) -> None:
        self._closed = True
        self._pipe.close()  # berth-containerd, still writing for a client that left, gets EPIPE
        self._call.cancel()

    async def aclose(self) -> None:
        self.close()


async def read_archive(ctrd: Containerd, cid: str, path: str, export: bool = False,
                       mounts: list[ArchiveMount] | None = None) -> tuple[PathStat, TarStream]:
    """The stat (awaited now: a missing path is an error of this call) and the tar, read
    from the FIFO berth-containerd writes it into. The caller closes the stream (aclose)
    however it ends."""
    pipe = Fifo(_fifo_dir(ctrd), write=False)
    call = None
    try:
        call = ctrd._containers.ReadArchive(pb.PathRequest(id=cid, path=path, export=export, mounts=_mounts(mounts),
                                                           fifo=pipe.path), wait_for_ready=True)
        first = await call.read()
        if first is grpc.aio.EOF or not first.HasField("stat"):
            raise RuntimeError("no stat in the answer")
    except BaseException as e:
        pipe.close()
        if call is not None:
            call.cancel()
        if isinstance(e, (grpc.aio.AioRpcError, RuntimeError)):
            raise _error(e, f"archive {path}") from None
        raise
    return _stat(first.stat), TarStream(pipe, call, path)


async def _feed(data: BodyWriter, pipe: Fifo) -> None:
    await data(pipe.writer)
    pipe.close_writer()


async def write_archive(ctrd: Containerd, cid: str, path: str, data: BodyWriter, *,
                        copy_uid_gid: bool, no_overwrite_dir_non_dir: bool,
                        mounts: list[ArchiveMount] | None = None, readonly_rootfs: bool = False) -> None:
    """The body written into a FIFO berth-containerd extracts from, while the call runs:
    `data` writes all of it into the FIFO's (non-blocking) write end (berthd's HTTP
    layer splices it there from the client's socket: http/rawbody.py). The client's
    upload and the extraction overlap; a call that ends first (an error) stops the
    writing (`data` is cancelled, and returns only once it no longer uses the fd), and
    one that fails the body (the client's) cancels the call."""
    pipe = Fifo(_fifo_dir(ctrd), write=True)
    tasks: list[asyncio.Task] = []
    try:
        request = pb.WriteArchiveRequest(id=cid, path=path, copy_uid_gid=copy_uid_gid,
                                         no_overwrite_dir_non_dir=no_overwrite_dir_non_dir, mounts=_mounts(mounts),
                                         readonly_rootfs=readonly_rootfs, fifo=pipe.path)
        loop = asyncio.get_running_loop()
        call = loop.create_task(ctrd._call(f"extract to {path}", ctrd._containers.WriteArchive(
            request, wait_for_ready=True, timeout=None)))
        tasks.append(call)
        feed = loop.create_task(_feed(data, pipe))
        tasks.append(feed)
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if feed.done() and feed.exception() is not None:
            raise feed.exception()  # type: ignore[misc]
        await call
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        pipe.close()
