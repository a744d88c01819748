"""The gRPC face of berth-containerd: one servicer per proto service, and the only
place that imports grpc (imported only after the fork server has been forked, since
grpc starts threads)."""

from __future__ import annotations

import os
from concurrent import futures

import grpc

from berth.proto import containerd_pb2_grpc as rpc

from ..containers import ContainerService
from ..events import EventBus
from ..images import ImageService
from ..images.pull import Puller
from ..runtime.tasks import TaskService
from .containers import Containers
from .events import Events
from .images import Images
from .tasks import Tasks


def serve(address: str, images: ImageService, containers: ContainerService, tasks: TaskService,
          events: EventBus, puller: Puller, certs_dir: str, workers: int = 1024) -> grpc.Server:
    """Bind the unix socket with mode 0600 and start serving.

    Wait and Subscribe hold a worker each for as long as they block, and a daemon
    may keep one Wait per container; the pool grows lazily, so a high cap is cheap.
    """
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
                         options=[("grpc.max_receive_message_length", 64 << 20)])
    rpc.add_ImagesServicer_to_server(Images(images, events, puller, certs_dir, tasks), server)
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
