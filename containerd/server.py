"""The gRPC face of the service: translate messages, map errors to status codes.

Imported only after the fork server has been forked (grpc starts threads).
"""

from __future__ import annotations

import functools
import logging
import os
from concurrent import futures
from typing import Any, Callable, Iterator, TypeVar

import grpc

from berth.proto import containerd_pb2 as pb
from berth.proto import containerd_pb2_grpc as rpc

from .containers import ContainerService, NewContainer
from .errors import BerthError, FailedPrecondition, InvalidArgument
from .events import EventBus
from .images import ImageService
from .metadata import ContainerRecord, ImageRecord
from .tasks import TaskService, TaskState

log = logging.getLogger("berth.containerd.server")
F = TypeVar("F", bound=Callable[..., Any])
_STATUS = {"created": pb.CREATED, "running": pb.RUNNING, "stopped": pb.STOPPED, "paused": pb.PAUSED}


def _errors(fn: F) -> F:
    """BerthError → its gRPC code with the one-line message; anything else → INTERNAL."""

    @functools.wraps(fn)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return fn(self, request, context)
        except BerthError as e:
            context.abort(getattr(grpc.StatusCode, e.code), str(e).splitlines()[0] if str(e) else e.code)
        except OSError as e:
            log.exception("%s failed", fn.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"{fn.__name__}: {e}")

    return wrapper  # type: ignore[return-value]


def _image(img: ImageRecord) -> pb.Image:
    return pb.Image(names=img.names, id=img.id, manifest_digest=img.manifest_digest, config=img.config,
                    size=img.size, layers=img.layers, created=img.created)


def _container(c: ContainerRecord) -> pb.Container:
    return pb.Container(id=c.id, image=c.image, spec=c.spec, runtime=c.runtime, labels=c.labels, created=c.created)


def _task(t: TaskState) -> pb.Task:
    return pb.Task(id=t.id, pid=t.pid, status=_STATUS.get(t.status, pb.UNKNOWN), exit_status=t.exit_status,
                   started_at=t.started_at, exited_at=t.exited_at, exec_id=t.exec_id)


class Images(rpc.ImagesServicer):
    def __init__(self, images: ImageService, events: EventBus) -> None:
        self.images = images
        self.events = events

    @_errors
    def Import(self, request_iterator: Iterator[pb.ImportRequest], context: grpc.ServicerContext) -> pb.Image:
        first = next(request_iterator, None)
        if first is None:
            raise InvalidArgument("import: empty request stream")

        def chunks() -> Iterator[bytes]:
            yield first.chunk
            for msg in request_iterator:
                yield msg.chunk

        img, _moved_from = self.images.import_tar(first.name, first.config, chunks())
        # An image whose name moved here stays, nameless, as Docker's "<none>" does.
        self.events.publish("/images/create", img.id)
        return _image(img)

    @_errors
    def Get(self, request: pb.GetImageRequest, context: grpc.ServicerContext) -> pb.Image:
        return _image(self.images.get(request.ref))

    @_errors
    def List(self, request: pb.ListImagesRequest, context: grpc.ServicerContext) -> pb.ListImagesResponse:
        return pb.ListImagesResponse(images=[_image(i) for i in self.images.list()])

    @_errors
    def Tag(self, request: pb.TagImageRequest, context: grpc.ServicerContext) -> pb.Image:
        img, _ = self.images.tag(request.ref, request.name)
        self.events.publish("/images/update", img.id)
        return _image(img)

    @_errors
    def Delete(self, request: pb.DeleteImageRequest, context: grpc.ServicerContext) -> pb.DeleteImageResponse:
        res = self.images.delete(request.ref, request.force)
        for image_id in res.deleted:
            self.events.publish("/images/delete", image_id)
        return pb.DeleteImageResponse(untagged=res.untagged, deleted=res.deleted)


class Containers(rpc.ContainersServicer):
    def __init__(self, containers: ContainerService, tasks: TaskService, events: EventBus) -> None:
        self.containers = containers
        self.tasks = tasks
        self.events = events

    @_errors
    def Create(self, request: pb.CreateContainerRequest, context: grpc.ServicerContext) -> pb.Container:
        c = request.container
        rec = self.containers.create(NewContainer(c.id, c.image, c.spec, c.runtime, dict(c.labels), c.user))
        self.events.publish("/containers/create", rec.id)
        return _container(rec)

    @_errors
    def Get(self, request: pb.GetContainerRequest, context: grpc.ServicerContext) -> pb.Container:
        return _container(self.containers.get(request.id))

    @_errors
    def List(self, request: pb.ListContainersRequest, context: grpc.ServicerContext) -> pb.ListContainersResponse:
        return pb.ListContainersResponse(containers=[_container(c) for c in self.containers.list()])

    @_errors
    def Delete(self, request: pb.DeleteContainerRequest, context: grpc.ServicerContext) -> pb.Empty:
        self.containers.get(request.id)
        if self.tasks.has_task(request.id):
            raise FailedPrecondition(f"container {request.id}: cannot delete a container with a task")
        self.containers.delete(request.id)
        self.events.publish("/containers/delete", request.id)
        return pb.Empty()


class Tasks(rpc.TasksServicer):
    def __init__(self, tasks: TaskService) -> None:
        self.tasks = tasks

    @_errors
    def Create(self, request: pb.CreateTaskRequest, context: grpc.ServicerContext) -> pb.Task:
        return _task(self.tasks.create(request.id, request.log_path, request.terminal, request.stdin,
                                       request.stdin_path, request.stdin_once))

    @_errors
    def Start(self, request: pb.TaskRequest, context: grpc.ServicerContext) -> pb.Task:
        return _task(self.tasks.start(request.id))

    @_errors
    def Get(self, request: pb.TaskRequest, context: grpc.ServicerContext) -> pb.Task:
        return _task(self.tasks.get(request.id, request.exec_id))

    @_errors
    def List(self, request: pb.ListTasksRequest, context: grpc.ServicerContext) -> pb.ListTasksResponse:
        return pb.ListTasksResponse(tasks=[_task(t) for t in self.tasks.list()])

    @_errors
    def Kill(self, request: pb.KillRequest, context: grpc.ServicerContext) -> pb.Empty:
        self.tasks.kill(request.id, request.signal, request.all, request.exec_id)
        return pb.Empty()

    @_errors
    def Wait(self, request: pb.TaskRequest, context: grpc.ServicerContext) -> pb.Task:
        return _task(self.tasks.wait(request.id, request.exec_id))

    @_errors
    def ListPids(self, request: pb.TaskRequest, context: grpc.ServicerContext) -> pb.ListPidsResponse:
        return pb.ListPidsResponse(pids=self.tasks.pids(request.id))

    @_errors
    def Delete(self, request: pb.DeleteTaskRequest, context: grpc.ServicerContext) -> pb.Task:
        return _task(self.tasks.delete(request.id, request.force))

    @_errors
    def Exec(self, request: pb.ExecRequest, context: grpc.ServicerContext) -> pb.ExecResponse:
        return pb.ExecResponse(pid=self.tasks.exec(request.id, request.exec_id, request.process, request.log_path))


    @_errors
    def ResizePty(self, request: pb.ResizePtyRequest, context: grpc.ServicerContext) -> pb.Empty:
        self.tasks.resize_pty(request.id, request.width, request.height)
        return pb.Empty()


class Events(rpc.EventsServicer):
    def __init__(self, events: EventBus) -> None:
        self.events = events

    def Subscribe(self, request: pb.SubscribeRequest, context: grpc.ServicerContext) -> Iterator[pb.Event]:
        q = self.events.subscribe()
        context.add_callback(lambda: self.events.unsubscribe(q))
        # Headers now, not with the first event: a client's wait_for_connection()
        # then returns as soon as it is subscribed, and nothing it does later is missed.
        context.send_initial_metadata(())
        while True:
            ev = q.get()
            if ev is None or not context.is_active():
                return
            yield pb.Event(topic=ev.topic, id=ev.id, pid=ev.pid, exit_status=ev.exit_status, timestamp=ev.timestamp)


def serve(address: str, images: ImageService, containers: ContainerService, tasks: TaskService,
          events: EventBus, workers: int = 1024) -> grpc.Server:
    """Bind the unix socket with mode 0600 and start serving.

    Wait and Subscribe hold a worker each for as long as they block, and a daemon
    may keep one Wait per container; the pool grows lazily, so a high cap is cheap.
    """
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
                         options=[("grpc.max_receive_message_length", 64 << 20)])
    rpc.add_ImagesServicer_to_server(Images(images, events), server)
    rpc.add_ContainersServicer_to_server(Containers(containers, tasks, events), server)
    rpc.add_TasksServicer_to_server(Tasks(tasks), server)
    rpc.add_EventsServicer_to_server(Events(events), server)
    if os.path.exists(address):
        os.unlink(address)
    old = os.umask(0o177)  # the socket is born 0600: no window where others may connect
    try:
        server.add_insecure_port("unix:" + address)
        server.start()
    finally:
        os.umask(old)
    os.chmod(address, 0o600)
    return server
