"""The Images service's commit and apply-layer calls (docker commit, the builder's steps)."""

from __future__ import annotations

from typing import Iterator

import grpc

from berth.proto import containerd_pb2 as pb

from ..errors import InvalidArgument
from ..events import EventBus
from ..images import ImageService
from ..images import commit, export
from ..runtime.tasks import TaskService
from .convert import errors, image_message


def _new_image(m: pb.CommitRequest) -> commit.NewImage:
    return commit.NewImage(parent=m.parent, config=commit.parse_config(m.config), created_by=m.created_by,
                           comment=m.comment, author=m.author, name=m.name)


class CommitMethods:
    """Mixed into the Images servicer (server/images.py)."""

    images: ImageService
    events: EventBus
    tasks: TaskService | None

    @errors
    def Commit(self, request: pb.CommitRequest, context: grpc.ServicerContext) -> pb.Image:
        new = _new_image(request)
        if request.container_id:
            has_task = self.tasks is not None and self.tasks.has_task(request.container_id)
            img = commit.commit_container(self.images, request.container_id, new, request.consume, has_task)
        else:
            img = commit.config_only(self.images, new)
        self.events.publish("/images/create", img.id)
        return image_message(img)

    @errors
    def ApplyLayer(self, request_iterator: Iterator[pb.ApplyLayerRequest],
                   context: grpc.ServicerContext) -> pb.Image:
        first = next(request_iterator, None)
        if first is None:
            raise InvalidArgument("apply layer: empty request stream")

        def chunks() -> Iterator[bytes]:
            yield first.chunk
            for msg in request_iterator:
                yield msg.chunk

        img = commit.apply_tar(self.images, chunks(), first.chown, _new_image(first.commit))
        self.events.publish("/images/create", img.id)
        return image_message(img)

    @errors
    def Export(self, request: pb.ExportRequest, context: grpc.ServicerContext) -> Iterator[pb.Chunk]:
        pieces = export.export(self.images, request.ref, list(request.paths))
        return (pb.Chunk(data=p) for p in pieces)
