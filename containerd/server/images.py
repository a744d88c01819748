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
from ..images import archive, load, remove
from ..images.pull import PullEvent, Puller, PullResult
from ..images.push import Pusher, PushEvent
from ..remotes import Credentials, Hosts
from ..runtime.tasks import TaskService
from ..snapshots import chain_id
from .commit import CommitMethods
from .convert import errors, image_message
from .registry import RegistryCalls


class Images(CommitMethods, RegistryCalls, rpc.ImagesServicer):  # Login, Resolve, ListTags: registry.py
    def __init__(self, images: ImageService, events: EventBus, puller: Puller, certs_dir: str,
                 tasks: TaskService | None = None) -> None:
        self.images = images
        self.events = events
        self.puller = puller
        self.pusher = Pusher(images)
        self.certs_dir = certs_dir
        self.tasks = tasks

    def _running(self, cid: str) -> bool:
        """Whether a container's task runs: an image it uses cannot be deleted, even forced."""
        if self.tasks is None or not self.tasks.has_task(cid):
            return False
        try:
            return self.tasks.get(cid).status in ("running", "paused")
        except Exception:  # noqa: BLE001 - a task going away as we look is not running
            return False

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
        img = self.images.get(request.ref)
        msg = image_message(img)
        if request.layer_sizes:
            chains = [chain_id(img.layers[:i + 1]) for i in range(len(img.layers))]
            msg.layer_sizes.extend(self.images.layer_size(c) for c in chains)
        return msg

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
        res = remove.delete(self.images, request.ref, request.force, self._running, request.noprune)
        for image_id in res.deleted:
            self.events.publish("/images/delete", image_id)
        return pb.DeleteImageResponse(untagged=res.untagged, deleted=res.deleted, deleted_layers=res.layers,
                                      reclaimed=res.reclaimed)

    @errors
    def GarbageCollect(self, request: pb.GarbageCollectRequest,
                       context: grpc.ServicerContext) -> pb.GarbageCollectResponse:
        removed, freed = remove.collect(self.images)
        return pb.GarbageCollectResponse(removed=removed, reclaimed=freed)

    @errors
    def Save(self, request: pb.SaveRequest, context: grpc.ServicerContext) -> Iterator[pb.Chunk]:
        pieces = archive.save(self.images, list(request.refs))  # resolves every name now: errors abort here
        return self._chunks(pieces)

    @staticmethod
    def _chunks(pieces: Iterator[bytes]) -> Iterator[pb.Chunk]:
        buf: list[bytes] = []
        size = 0
        for piece in pieces:
            buf.append(piece)
            size += len(piece)
            if size >= 1 << 20:
                yield pb.Chunk(data=b"".join(buf))
                buf, size = [], 0
        if buf:
            yield pb.Chunk(data=b"".join(buf))

    @errors
    def Load(self, request_iterator: Iterator[pb.LoadRequest], context: grpc.ServicerContext) -> pb.LoadResponse:
        messages: list[str] = []
        ids = load.load(self.images, (m.chunk for m in request_iterator), messages.append)
        for image_id in ids:
            self.events.publish("/images/create", image_id)
        return pb.LoadResponse(messages=messages, ids=ids)

    def Push(self, request: pb.PushRequest, context: grpc.ServicerContext) -> Iterator[pb.PushProgress]:
        """As Pull: the push runs in its own thread, its statuses come through a queue;
        the stream ends with the push (or aborts with its error)."""
        events: queue.Queue[PushEvent | BaseException | None] = queue.Queue()
        a = request.auth
        creds = Credentials(a.username, a.password, a.identity_token, a.registry_token)
        hosts = Hosts(tuple(request.insecure_registries), self.certs_dir)

        def run() -> None:
            try:
                self.pusher.push(request.ref, creds, hosts, events.put)
                events.put(None)
            except BaseException as e:  # noqa: BLE001 - handed to the gRPC thread, which answers with it
                events.put(e)

        threading.Thread(target=run, name="push", daemon=True).start()
        return self._push_progress(events, context)

    def _push_progress(self, events: queue.Queue, context: grpc.ServicerContext) -> Iterator[pb.PushProgress]:
        while True:
            item = self._first(events.get(), context)
            if item is None:
                return
            assert isinstance(item, PushEvent)
            yield pb.PushProgress(id=item.id, status=item.status, current=item.current, total=item.total,
                                  layer=item.layer, tag=item.tag, digest=item.digest, size=item.size)

    def Pull(self, request: pb.PullRequest, context: grpc.ServicerContext) -> Iterator[pb.PullProgress]:
        """The pull runs in a thread of its own; its progress comes here through a queue.
        An error before the first message aborts the call (berthd answers with an HTTP
        error); after it, it aborts the stream (berthd writes docker's errorDetail)."""
        events: queue.Queue[PullEvent | PullResult | BaseException] = queue.Queue()
        a = request.auth
        creds = Credentials(a.username, a.password, a.identity_token, a.registry_token)
        hosts = Hosts(tuple(request.insecure_registries), self.certs_dir, tuple(request.mirrors))

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
