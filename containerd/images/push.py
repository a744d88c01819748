"""Push: a local image's blobs and manifest into its registry, with docker's progress.

For each layer, bottom first, on a pool of 5 (dockerd's max-concurrent-uploads): a
HEAD tells whether the registry has it ("Layer already exists"); else a repository of
the same registry known to hold it (we pulled it from there, or pushed it there) is
asked to lend it ("Mounted from X"); else it is uploaded ("Pushing", "Pushed"). Then
the config blob, the same way but silently, and last the manifest, by tag: until the
manifest is in, the registry shows nothing new under the tag.

An image berth made (built, committed, imported, loaded) is pushed as dockerd pushes
one: its plain layers gzipped (once, then reused: compress.py) under a Docker schema2
manifest; the image keeps its id (the config is the same bytes) and its local manifest.
A pulled image's manifest goes as it came, its digest kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from berth.common import reference

from ..errors import BerthError, Internal, InvalidArgument, NotFound
from ..metadata import ImageRecord
from ..remotes import Credentials, Hosts, RegistryError, Repository, TransportError, upload
from ..remotes.auth import AuthError
from ..remotes.media import Descriptor
from . import compress
from .manifest import OCI_LAYER, local_manifest, push_manifest
from .service import ImageService


@dataclass
class PushEvent:
    id: str = ""            # a layer's short diff id, or ""
    status: str = ""
    current: int = 0
    total: int = 0
    layer: bool = False
    tag: str = ""           # with the final line of each tag: docker's aux {Tag, Digest, Size}
    digest: str = ""
    size: int = 0


Emit = Callable[[PushEvent], None]
_GZIP = OCI_LAYER + "+gzip"


class Pusher:
    def __init__(self, images: ImageService, workers: int = 5, chunk: int = upload.CHUNK) -> None:
        self.images = images
        self.workers = workers
        self.chunk = chunk
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push")

    def push(self, text: str, creds: Credentials, hosts: Hosts, emit: Emit) -> None:
        """docker push NAME[:TAG]; without a tag, every tag of NAME (the API's rule)."""
        try:
            ref = reference.parse(text)
        except reference.ReferenceError as e:
            raise InvalidArgument(str(e)) from None
        if ref.digest:
            raise InvalidArgument(f"cannot push a digest reference: {text}")
        emit(PushEvent(status=f"The push refers to repository [{ref.name}]"))
        tags = self._tags(ref)
        repo = Repository(hosts, reference.Reference(ref.domain, ref.path), creds, actions="pull,push")
        for tag, img in tags:
            try:
                self._push_one(repo, tag, img, emit)
            except BerthError:
                raise
            except (RegistryError, TransportError, AuthError) as e:
                raise Internal(_wording(e)) from None

    def _tags(self, ref: reference.Reference) -> list[tuple[str, ImageRecord]]:
        """(tag, image) of each local name to push, in tag order (docker's "no tags" errors)."""
        found: dict[str, ImageRecord] = {}
        for img in self.images.list():
            for name in img.names:
                try:
                    r = reference.parse(name)
                except reference.ReferenceError:
                    continue
                if (r.domain, r.path) == (ref.domain, ref.path) and r.tag and not r.digest:
                    found[r.tag] = img
        if not found:
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
        if ref.tag:
            if ref.tag not in found:
                raise NotFound(f"tag does not exist: {ref.familiar()}")
            return [(ref.tag, found[ref.tag])]
        return sorted(found.items())

    def _push_one(self, repo: Repository, tag: str, img: ImageRecord, emit: Emit) -> None:
        with self.images.lease([img.id, *img.layer_blobs]):
            local = local_manifest(self.images.content, img)
            ids = [diff[7:19] for diff in img.layers]
            for short in ids:
                emit(PushEvent(short, "Preparing", layer=True))
            for n, short in enumerate(ids):
                if n >= self.workers:
                    emit(PushEvent(short, "Waiting", layer=True))
            jobs: list[Future] = [self._pool.submit(self._layer, repo, diff, desc, local.made, emit)
                                  for diff, desc in zip(img.layers, local.layers, strict=False)]
            _, pending = wait(jobs, return_when=FIRST_EXCEPTION)
            for job in pending:
                job.cancel()
            wait(pending)
            for job in jobs:
                if job.done() and not job.cancelled() and job.exception() is not None:
                    raise job.exception()  # type: ignore[misc]
            # berth's own manifest becomes dockerd's schema2 one, over the layers as sent;
            # a registry's is pushed byte for byte (its digest kept)
            manifest = push_manifest(img, [job.result() for job in jobs]) if local.made else local
            self._blob(repo, manifest.config, lambda *_: None)
        upload.put_manifest(repo, tag, manifest.media_type, manifest.body)
        digest = "sha256:" + hashlib.sha256(manifest.body).hexdigest()
        self.images.record_pushed(img.id, f"{repo.ref.familiar_name}@{digest}")
        emit(PushEvent(status=f"{tag}: digest: {digest} size: {len(manifest.body)}", tag=tag, digest=digest,
                       size=len(manifest.body)))

    def _layer(self, repo: Repository, diff_id: str, desc: Descriptor, made: bool, emit: Emit) -> Descriptor:
        """One layer into the registry; the descriptor it has there. A plain layer of an
        image berth made goes as gzip (compress.py), as dockerd's push sends its layers."""
        short = diff_id[7:19]
        sent = _progress(short, desc.size, emit)
        if made and compress.is_plain(self.images.content, desc.digest):
            with compress.lock(diff_id):
                found = compress.known(self.images.content, self.images.meta, diff_id, _GZIP)
                if found is None:  # never compressed: nothing to ask the registry about yet
                    desc = self._gzip_and_upload(repo, diff_id, desc, sent)
                    emit(PushEvent(short, "Pushed", layer=True))
                    return desc
            desc, sent = found, _progress(short, found.size, emit)
        with self.images.lease([desc.digest]):
            how = self._blob(repo, desc, sent)
        emit(PushEvent(short, how, layer=True))
        return desc

    def _gzip_and_upload(self, repo: Repository, diff_id: str, desc: Descriptor,
                         sent: Callable[[int, int], None]) -> Descriptor:
        """Compressed into the content store and uploaded as it is written (progress over
        the plain bytes, as dockerd's); kept, and recorded, for the next push."""
        content, meta = self.images.content, self.images.meta
        location = upload.start(repo)
        with compress.stream(content, meta, diff_id, desc.digest, sent) as growing:
            digest, size = upload.upload_growing(repo, location, growing)
        meta.add_blob_source(digest, repo.host, repo.ref.path)
        return Descriptor(_GZIP, digest, size)

    def _blob(self, repo: Repository, desc: Descriptor, sent: Callable[[int, int], None]) -> str:
        """Make sure the registry has the blob; docker's word for how it got there."""
        meta = self.images.meta
        here = repo.ref.path
        if upload.blob_exists(repo, desc.digest):
            meta.add_blob_source(desc.digest, repo.host, here)
            return "Layer already exists"
        location = ""
        for source in meta.blob_sources(desc.digest, repo.host):
            if source == here:
                continue
            try:
                location = upload.mount(repo, desc.digest, source)
            except RegistryError:
                continue  # not lent (no access there any more, or it is gone): upload it
            if not location:
                meta.add_blob_source(desc.digest, repo.host, here)
                return f"Mounted from {reference.Reference(repo.ref.domain, source).familiar_name}"
            break
        location = location or upload.start(repo)
        upload.upload(repo, location, desc.digest, self.images.content.path(desc.digest), desc.size, sent,
                      self.chunk)
        meta.add_blob_source(desc.digest, repo.host, here)
        return "Pushed"


def _progress(short: str, size: int, emit: Emit) -> Callable[[int, int], None]:
    """docker's "Pushing" lines for one layer, about every 2% (512 KiB at least)."""
    said = [0]
    step = max(512 << 10, size // 50)

    def sent(current: int, total: int) -> None:
        if current - said[0] >= step or current == total:
            said[0] = current
            emit(PushEvent(short, "Pushing", current, total, True))

    return sent


def _wording(e: Exception) -> str:
    """docker's: the registry's errcode text ("denied: requested access to the resource
    is denied", "unauthorized: authentication required"), or the transport's failure."""
    return str(e)
