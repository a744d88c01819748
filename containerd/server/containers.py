"""The Containers service: records with their writable snapshots."""

from __future__ import annotations

import os
from typing import Iterable, Iterator

import grpc

from berth.proto import containerd_pb2 as pb
from berth.proto import containerd_pb2_grpc as rpc

from ..archive import ArchiveService, Bind, PathInfo, fifo, tarout
from ..containers import ContainerService, NewContainer
from ..diff import changes
from ..errors import FailedPrecondition
from ..events import EventBus
from ..runtime.tasks import TaskService
from .convert import container_message, errors


class Containers(rpc.ContainersServicer):
    def __init__(self, containers: ContainerService, tasks: TaskService, events: EventBus) -> None:
        self.containers = containers
        self.tasks = tasks
        self.events = events
        self.archives = ArchiveService(tasks)  # docker cp and export: containerd/archive/

    @errors
    def Create(self, request: pb.CreateContainerRequest, context: grpc.ServicerContext) -> pb.Container:
        c = request.container
        rec = self.containers.create(NewContainer(c.id, c.image, c.spec, c.runtime, dict(c.labels), c.user))
        self.events.publish("/containers/create", rec.id)
        return container_message(rec)

    @errors
    def Get(self, request: pb.GetContainerRequest, context: grpc.ServicerContext) -> pb.Container:
        return container_message(self.containers.get(request.id))

    @errors
    def List(self, request: pb.ListContainersRequest, context: grpc.ServicerContext) -> pb.ListContainersResponse:
        return pb.ListContainersResponse(containers=[container_message(c) for c in self.containers.list()])

    @errors
    def Delete(self, request: pb.DeleteContainerRequest, context: grpc.ServicerContext) -> pb.Empty:
        self.containers.get(request.id)
        if self.tasks.has_task(request.id):
            raise FailedPrecondition(f"container {request.id}: cannot delete a container with a task")
        self.containers.delete(request.id)
        self.events.publish("/containers/delete", request.id)
        return pb.Empty()

    # ------------------------------------------------------- files (archive/)
    @errors
    def StatPath(self, request: pb.PathRequest, context: grpc.ServicerContext) -> pb.PathStat:
        return _stat(self.archives.stat(request.id, request.path, _binds(request.mounts)))

    def ReadArchive(self, request: pb.PathRequest, context: grpc.ServicerContext) -> Iterator[pb.ArchiveChunk]:
        out = self._open_fifo(request, context)  # no fifo (an older berthd): refused before any mount
        try:
            pieces = self.archives.read(request.id, request.path, request.export, _binds(request.mounts))
            try:
                first = self._first(pieces, context)  # an unknown container or path aborts the call here
                yield pb.ArchiveChunk(stat=_stat(first))  # the caller reads the fifo from now on
                try:
                    fifo.send(out, pieces)  # type: ignore[arg-type]
                except BrokenPipeError:
                    context.abort(grpc.StatusCode.CANCELLED, "the archive's reader has gone")
            finally:
                pieces.close()  # the view goes now, not when the generator is collected
        finally:
            os.close(out)

    @errors
    def _first(self, pieces: Iterator[PathInfo | bytes | tarout.Body], context: grpc.ServicerContext) -> PathInfo:
        return next(pieces)  # type: ignore[return-value]

    @errors
    def _open_fifo(self, request: pb.PathRequest, context: grpc.ServicerContext) -> int:
        return fifo.open_fifo(request.fifo, write=True)

    @errors
    def WriteArchive(self, request: pb.WriteArchiveRequest, context: grpc.ServicerContext) -> pb.Empty:
        src = fifo.open_fifo(request.fifo, write=False)
        try:
            self.archives.write(request.id, request.path, fifo.PipeFeed(src), request.copy_uid_gid,
                                request.no_overwrite_dir_non_dir, _binds(request.mounts), request.readonly_rootfs)
            fifo.drain(src)
        finally:
            os.close(src)
        return pb.Empty()

    # ------------------------------------------ the writable layer (diff/changes.py)
    @errors
    def WritableLayer(self, request: pb.WritableLayerRequest,
                      context: grpc.ServicerContext) -> pb.WritableLayerUsage:
        upper, lowers = self.containers.snapshots.layer_dirs(self.containers.get(request.id).snapshot)
        got = changes.usage(upper, lowers, request.changes)
        return pb.WritableLayerUsage(size=got.size, changes=[pb.Change(path=p, kind=k) for p, k in got.changes])


def _binds(mounts: Iterable[pb.ArchiveMount]) -> list[Bind]:
    return [Bind(m.destination, m.source, m.readonly, m.recursive) for m in mounts]


def _stat(s: PathInfo) -> pb.PathStat:
    return pb.PathStat(name=s.name, size=s.size, mode=s.mode, mtime_ns=s.mtime_ns, link_target=s.link_target)
