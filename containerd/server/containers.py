"""The Containers service: records with their writable snapshots."""

from __future__ import annotations

import grpc

from berth.proto import containerd_pb2 as pb
from berth.proto import containerd_pb2_grpc as rpc

from ..containers import ContainerService, NewContainer
from ..errors import FailedPrecondition
from ..events import EventBus
from ..runtime.tasks import TaskService
from .convert import container_message, errors


class Containers(rpc.ContainersServicer):
    def __init__(self, containers: ContainerService, tasks: TaskService, events: EventBus) -> None:
        self.containers = containers
        self.tasks = tasks
        self.events = events

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
