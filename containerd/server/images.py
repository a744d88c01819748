"""The Images service: import, get, list, tag, delete."""

from __future__ import annotations

import queue
import threading
from typing import Iterator

import grpc

from berth.proto import containerd_pb2 as pb
from berth.proto import containerd_pb2_grpc as rpc

from ..errors import InvalidArgument
from ..events import EventBus
from ..images import ImageService
from ..images.pull import PullEvent, Puller, PullResult
from ..remotes import Credentials, Hosts
from .convert import errors, image_message


class Images(rpc.ImagesServicer):
    def __init__(self, images: ImageService, events: EventBus, puller: Puller, certs_dir: str) -> None:
        self.images = images
        self.events = events
        self.puller = puller
        self.certs_dir = certs_dir

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

    def Pull(self, request: pb.PullRequest, context: grpc.ServicerContext) -> Iterator[pb.PullProgress]:
        """The pull runs in a thread of its own; its progress comes here through a queue.
        An error before the first message aborts the call (berthd answers with an HTTP
        error); after it, it aborts the stream (berthd writes docker's errorDetail)."""
        events: queue.Queue[PullEvent | PullResult | BaseException] = queue.Queue()
        a = request.auth
        creds = Credentials(a.username, a.password, a.identity_token, a.registry_token)
        hosts = Hosts(tuple(request.insecure_registries), self.certs_dir)

        def run() -> None:
            try:
                events.put(self.puller.pull(request.ref, request.platform, creds, hosts, events.put))
            except BaseException as e:  # noqa: BLE001 - handed to the gRPC thread, which answers with it
                events.put(e)

        threading.Thread(target=run, name="pull", daemon=True).start()
        return self._progress(events, context)

    @errors
    def _first(self, item: object, context: grpc.ServicerContext) -> object:
        if isinstance(item, BaseException):
            raise item
        return item

    def _progress(self, events: queue.Queue, context: grpc.ServicerContext) -> Iterator[pb.PullProgress]:
        while True:
            item = self._first(events.get(), context)
            if isinstance(item, PullResult):
                if item.updated:
                    self.events.publish("/images/create", item.image.id)
                yield pb.PullProgress(image=image_message(item.image), digest=item.digest, updated=item.updated)
                return
            assert isinstance(item, PullEvent)
            yield pb.PullProgress(id=item.id, status=item.status, current=item.current, total=item.total,
                                  layer=item.layer)
