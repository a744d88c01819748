"""Pull: a reference resolved on its registry, its layers fetched and unpacked, the image recorded.

Layers are independent until the end: each is downloaded (into the content store,
verified) and then unpacked into its own committed snapshot by the same worker, so
the first layer unpacks while later ones still download. Their snapshots are keyed
by chain id, computable from the config before any layer arrives; only the image
record, written last, ties them together. A layer already unpacked is not fetched
again; one being fetched or unpacked by another pull is waited for, not repeated.
Progress goes to `emit` as docker's statuses, which berthd turns into its JSON.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from berth.common import reference

from ..errors import BerthError, InvalidArgument
from ..metadata import ImageRecord
from ..remotes import Credentials, Fetcher, Hosts, Manifest, Repository, media, mirrors, parse_platform
from ..snapshots import chain_id
from .pull_errors import translate
from .service import ImageService


@dataclass
class PullEvent:
    id: str = ""            # a layer's short digest, the tag ("Pulling from"), or "" (Digest:, Status:)
    status: str = ""
    current: int = 0
    total: int = 0
    layer: bool = False     # a per-layer progress line (docker gives these a progressDetail)


@dataclass
class PullResult:
    image: ImageRecord
    digest: str             # what the reference resolved to (the index's digest for a multi-platform image)
    name: str               # the name now pointing at the image: busybox:latest, x/y@sha256:...
    updated: bool           # the name pointed elsewhere (or nowhere) before


Emit = Callable[[PullEvent], None]


class Puller:
    def __init__(self, images: ImageService, workers: int = 4) -> None:
        self.images = images
        self.fetcher = Fetcher(images.content)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pull")
        self.workers = workers
        self.allow_devices = os.geteuid() == 0

    def pull(self, text: str, platform: str, creds: Credentials, hosts: Hosts, emit: Emit) -> PullResult:
        try:
            ref = reference.parse(text).with_default_tag()
        except reference.ReferenceError as e:
            raise InvalidArgument(str(e)) from None
        try:
            return self._pull(ref, platform, creds, hosts, emit)
        except BerthError:
            raise
        except Exception as e:  # noqa: BLE001 - registry, transport, media and fetch errors, worded as docker's
            raise translate(e, ref) from None

    def _pull(self, ref: reference.Reference, platform: str, creds: Credentials, hosts: Hosts,
              emit: Emit) -> PullResult:
        want = parse_platform(platform)
        ident = ref.digest or ref.tag
        repo, top = mirrors.first(hosts, ref, creds, lambda r: r.manifest(ident))  # docker.io: mirrors first
        doc = media.decode(top.body, "manifest")
        chosen = top
        if media.media_type_of(doc, top.media_type) in media.INDEX_TYPES:
            chosen = repo.manifest(media.select(doc, want).digest)
            doc = media.decode(chosen.body, "manifest")
        elif media.media_type_of(doc, top.media_type) not in (media.OCI_MANIFEST, media.DOCKER_MANIFEST):
            raise media.MediaError(f"unsupported manifest media type {media.media_type_of(doc, top.media_type)}")
        emit(PullEvent(ident, f"Pulling from {ref.path}"))
        manifest = media.image_manifest(doc)
        keys = [top.digest, chosen.digest, manifest.config.digest, *(d.digest for d in manifest.layers)]
        with self.images.lease(keys):
            return self._pull_image(repo, ref, top, chosen, manifest, want, emit)

    def _pull_image(self, repo: Repository, ref: reference.Reference, top: Manifest, chosen: Manifest,
                    manifest: media.ImageManifest, want: media.Platform, emit: Emit) -> PullResult:
        self.fetcher.fetch(repo, manifest.config, lambda *_: None)
        config_bytes = self.images.content.read(manifest.config.digest)
        config = media.decode(config_bytes, "image config")
        _check_platform(config, want, ref, from_index=chosen is not top)
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if not manifest.layers or len(diff_ids) != len(manifest.layers):
            raise media.MediaError(f"image config of {ref.familiar()} lists {len(diff_ids)} layers, "
                                   f"its manifest {len(manifest.layers)}")
        chains = [chain_id(diff_ids[:i + 1]) for i in range(len(diff_ids))]
        with self.images.lease(chains):
            return self._finish(repo, ref, top, chosen, manifest, config_bytes, diff_ids, chains, emit)

    def _finish(self, repo: Repository, ref: reference.Reference, top: Manifest, chosen: Manifest,
                manifest: media.ImageManifest, config_bytes: bytes, diff_ids: list[str], chains: list[str],
                emit: Emit) -> PullResult:
        config = media.decode(config_bytes, "image config")
        self._layers(repo, manifest.layers, diff_ids, chains, emit)
        for body in (top.body, chosen.body):
            self.images.content.put(body)  # named by their own hash: verified by construction
        record = ImageRecord(
            id=manifest.config.digest, manifest_digest=chosen.digest, config=config_bytes,
            size=sum(self.images.layer_size(c) for c in chains), layers=list(diff_ids),
            layer_blobs=[layer.digest for layer in manifest.layers], chain_id=chains[-1],
            created=str(config.get("created") or ""))
        name = ref.familiar() if not (ref.tag and ref.digest) else reference.Reference(
            ref.domain, ref.path, "", ref.digest).familiar()
        updated = self.images.record_pulled(record, name, f"{ref.familiar_name}@{top.digest}")
        for blob in (manifest.config.digest, *record.layer_blobs):  # where a push may mount them from
            self.images.meta.add_blob_source(blob, repo.host, ref.path)
        emit(PullEvent("", f"Digest: {top.digest}"))
        emit(PullEvent("", f"Status: {'Downloaded newer image' if updated else 'Image is up to date'} for {name}"))
        return PullResult(self.images.get(record.id), top.digest, name, updated)

    def _layers(self, repo: Repository, layers: list[media.Descriptor], diff_ids: list[str], chains: list[str],
                emit: Emit) -> None:
        todo = []
        for i, layer in enumerate(layers):
            if self.images.snapshots.has(chains[i]):
                emit(PullEvent(layer.digest[7:19], "Already exists", layer=True))
            else:
                todo.append(i)
                emit(PullEvent(layer.digest[7:19], "Pulling fs layer", layer=True))
        for n, i in enumerate(todo):
            if n >= self.workers:
                emit(PullEvent(layers[i].digest[7:19], "Waiting", layer=True))
        jobs: list[Future] = [self._pool.submit(self._layer, repo, layers[i], diff_ids[i], chains[i],
                                                chains[i - 1] if i else "", emit) for i in todo]
        done, pending = wait(jobs, return_when=FIRST_EXCEPTION)
        for job in pending:
            job.cancel()
        wait(pending)  # those already running finish (or fail) before the pull answers
        for job in jobs:
            if job.done() and not job.cancelled() and job.exception() is not None:
                raise job.exception()  # type: ignore[misc]

    def _layer(self, repo: Repository, layer: media.Descriptor, diff_id: str, key: str, parent: str,
               emit: Emit) -> None:
        short = layer.digest[7:19]
        self.fetcher.fetch(repo, layer, lambda status, cur, total: emit(PullEvent(short, status, cur, total, True)))
        emit(PullEvent(short, "Extracting", 0, layer.size, True))
        try:
            self.images.snapshots.unpack(key, parent, self.images.content.path(layer.digest), diff_id=diff_id,
                                         allow_devices=self.allow_devices)
        except InvalidArgument:
            if not self.images.blob_in_use(layer.digest):
                self.images.content.delete(layer.digest)  # a bad layer is not kept under its digest
            raise
        emit(PullEvent(short, "Extracting", layer.size, layer.size, True))
        emit(PullEvent(short, "Pull complete", layer=True))


def _check_platform(config: dict, want: media.Platform, ref: reference.Reference, from_index: bool) -> None:
    """A single-platform image must be for the platform asked (berth runs no emulation)."""
    if from_index:
        return
    os_, arch = config.get("os", ""), config.get("architecture", "")
    if (os_ and os_ != want.os) or (arch and arch != want.architecture):
        actual = f"{os_}/{arch}" + (f"/{config['variant']}" if config.get("variant") else "")
        raise media.MediaError(f"image with reference {ref.familiar()} was found but does not match the "
                               f"specified platform: wanted {want}, actual: {actual}")
