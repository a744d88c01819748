"""The manifest of a local image, as a registry or an OCI layout must receive it.

A pulled image keeps the manifest it came with (pushing its bytes again keeps its
digest). An imported or committed image has the OCI manifest made when it was
stored. Either way the manifest is checked against the image record before it
leaves: its config must be the image's config and its layers the stored blobs, in
order; when it is not (or is missing), a new OCI manifest is made from the record,
each layer's media type read from its blob's first bytes (layers are kept as they
were received: plain tar, gzip or zstd). `made` is the record's: berth made the image
(committed, built, imported or loaded), so no registry knows its manifest, and push
replaces it with the Docker schema2 manifest dockerd pushes (push_manifest).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ..content import ContentStore
from ..errors import NotFound
from ..metadata import ImageRecord
from ..remotes import media
from ..remotes.media import Descriptor

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


@dataclass
class LocalManifest:
    media_type: str
    body: bytes
    config: Descriptor
    layers: list[Descriptor]
    made: bool = False      # the image is berth's own (its record's `made`): push makes dockerd's manifest


def layer_media_type(content: ContentStore, digest: str, oci: bool = True) -> str:
    with open(content.path(digest), "rb") as f:
        magic = f.read(4)
    if magic[:2] == b"\x1f\x8b":
        return OCI_LAYER + "+gzip" if oci else "application/vnd.docker.image.rootfs.diff.tar.gzip"
    if magic == b"\x28\xb5\x2f\xfd":
        return OCI_LAYER + "+zstd" if oci else "application/vnd.docker.image.rootfs.diff.tar.zstd"
    return OCI_LAYER if oci else "application/vnd.docker.image.rootfs.diff.tar"


def local_manifest(content: ContentStore, img: ImageRecord) -> LocalManifest:
    for blob in (img.id, *img.layer_blobs):
        if not content.exists(blob):
            raise NotFound(f"image {img.id[7:19]}: blob {blob} is missing from the content store")
    try:
        body = content.read(img.manifest_digest)
        doc = media.decode(body, "manifest")
        parsed = media.image_manifest(doc)
        mt = media.media_type_of(doc, "")
        if (mt in (media.OCI_MANIFEST, media.DOCKER_MANIFEST) and parsed.config.digest == img.id
                and [d.digest for d in parsed.layers] == img.layer_blobs):
            return LocalManifest(mt, body, parsed.config, parsed.layers, img.made)
    except (NotFound, media.MediaError):
        pass
    made = own_manifest(content, img)
    content.put(made.body)
    return made


def push_manifest(img: ImageRecord, layers: list[Descriptor]) -> LocalManifest:
    """The Docker schema2 manifest dockerd 20.10 pushes for an image it made: docker's
    media types (podman, for one, reads a config's Healthcheck only under them); an OCI
    manifest when a layer is zstd, which schema2 has no type for."""
    if any(d.media_type.endswith("zstd") for d in layers):
        config = Descriptor(media.CONFIG_TYPES[0], img.id, len(img.config))
        mt = media.OCI_MANIFEST
    else:
        config = Descriptor(media.CONFIG_TYPES[1], img.id, len(img.config))
        layers = [Descriptor(_DOCKER_LAYER.get(d.media_type, d.media_type), d.digest, d.size) for d in layers]
        doc = {"schemaVersion": 2, "mediaType": media.DOCKER_MANIFEST, "config": _docker_json(config),
               "layers": [_docker_json(d) for d in layers]}
        # docker/distribution's schema2 layout: 3-space indent, each descriptor's size before its digest
        return LocalManifest(media.DOCKER_MANIFEST, json.dumps(doc, indent=3).encode(), config, layers)
    doc = {"schemaVersion": 2, "mediaType": mt, "config": _json(config), "layers": [_json(d) for d in layers]}
    return LocalManifest(mt, json.dumps(doc, separators=(",", ":")).encode(), config, layers)


_DOCKER_LAYER = {OCI_LAYER: "application/vnd.docker.image.rootfs.diff.tar",
                 OCI_LAYER + "+gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip"}


def own_manifest(content: ContentStore, img: ImageRecord) -> LocalManifest:
    """The OCI manifest berth makes for the record (commit, build, import and load make this one)."""
    config = Descriptor(media.CONFIG_TYPES[0], img.id, len(img.config))
    layers = [Descriptor(layer_media_type(content, d), d, _size(content, d)) for d in img.layer_blobs]
    doc = {"schemaVersion": 2, "mediaType": media.OCI_MANIFEST, "config": _json(config),
           "layers": [_json(d) for d in layers]}
    body = json.dumps(doc, separators=(",", ":")).encode()
    return LocalManifest(media.OCI_MANIFEST, body, config, layers, img.made)


def _size(content: ContentStore, digest: str) -> int:
    return os.stat(content.path(digest)).st_size


def _docker_json(d: Descriptor) -> dict:
    return {"mediaType": d.media_type, "size": d.size, "digest": d.digest}


def _json(d: Descriptor) -> dict:
    return {"mediaType": d.media_type, "digest": d.digest, "size": d.size}
