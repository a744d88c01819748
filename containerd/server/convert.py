"""Service records as proto messages, and service errors as gRPC status codes."""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable, TypeVar

import grpc

from berth.proto import containerd_pb2 as pb

from ..errors import BerthError
from ..metadata import ContainerRecord, ImageRecord
from ..runtime.tasks import TaskState

log = logging.getLogger("berth.containerd.server")
F = TypeVar("F", bound=Callable[..., Any])
_STATUS = {"created": pb.CREATED, "running": pb.RUNNING, "stopped": pb.STOPPED, "paused": pb.PAUSED}


def errors(fn: F) -> F:
    """BerthError → its gRPC code with the one-line message; anything else → INTERNAL."""

    @functools.wraps(fn)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return fn(self, request, context)
        except BerthError as e:
            context.abort(getattr(grpc.StatusCode, e.code), str(e).splitlines()[0] if str(e) else e.code)
        except Exception as e:  # noqa: BLE001 - logged with its traceback, answered as INTERNAL
            log.exception("%s failed", fn.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"{fn.__name__}: {e}")

    return wrapper  # type: ignore[return-value]


def image_message(img: ImageRecord) -> pb.Image:
    return pb.Image(names=img.names, id=img.id, manifest_digest=img.manifest_digest, config=img.config,
                    size=img.size, layers=img.layers, created=img.created, parent=img.parent)


def container_message(c: ContainerRecord) -> pb.Container:
    return pb.Container(id=c.id, image=c.image, spec=c.spec, runtime=c.runtime, labels=c.labels, created=c.created)


def task_message(t: TaskState) -> pb.Task:
    return pb.Task(id=t.id, pid=t.pid, status=_STATUS.get(t.status, pb.UNKNOWN), exit_status=t.exit_status,
                   started_at=t.started_at, exited_at=t.exited_at, exec_id=t.exec_id,
                   oom_killed=t.oom_killed)
