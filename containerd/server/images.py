"""The Images service: import, get, list, tag, delete."""

from __future__ import annotations

from typing import Iterator

import grpc

from berth.proto import containerd_pb2 as pb
from berth.proto import containerd_pb2_grpc as rpc

from ..errors import InvalidArgument
from ..events import EventBus
from ..images import ImageService
from .convert import errors, image_message


class Images(rpc.ImagesServicer):
    def __init__(self, images: ImageService, events: EventBus) -> None:
        self.images = images
        self.events = events

    @errors
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
        return image_message(img)

    @errors
    def Get(self, request: pb.GetImageRequest, context: grpc.ServicerContext) -> pb.Image:
        return image_message(self.images.get(request.ref))

    @errors
    def List(self, request: pb.ListImagesRequest, context: grpc.ServicerContext) -> pb.ListImagesResponse:
        return pb.ListImagesResponse(images=[image_message(i) for i in self.images.list()])

    @errors
    def Tag(self, request: pb.TagImageRequest, context: grpc.ServicerContext) -> pb.Image:
        img, _ = self.images.tag(request.ref, request.name)
        self.events.publish("/images/update", img.id)
        return image_message(img)

    @errors
    def Delete(self, request: pb.DeleteImageRequest, context: grpc.ServicerContext) -> pb.DeleteImageResponse:
        res = self.images.delete(request.ref, request.force)
        for image_id in res.deleted:
            self.events.publish("/images/delete", image_id)
        return pb.DeleteImageResponse(untagged=res.untagged, deleted=res.deleted)
