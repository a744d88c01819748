"""The manifest of a local image, as a registry or an OCI layout must receive it.

A pulled image keeps the manifest it came with (pushing its bytes again keeps its
digest). An imported or committed image has the OCI manifest made when it was
stored. Either way the manifest is checked against the image record before it
leaves: its config must be the image's config and its layers the stored blobs, in
order; when it is not (or is missing), a new OCI manifest is made from the record,
each layer's media type read from its blob's first bytes (layers are kept as they
were received: plain tar, gzip or zstd).
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
            return LocalManifest(mt, body, parsed.config, parsed.layers)
    except (NotFound, media.MediaError):
        pass
    return _rebuilt(content, img)


def _rebuilt(content: ContentStore, img: ImageRecord) -> LocalManifest:
    config = Descriptor("application/vnd.oci.image.config.v1+json", img.id, len(img.config))
    layers = [Descriptor(layer_media_type(content, d), d, _size(content, d)) for d in img.layer_blobs]
    doc = {"schemaVersion": 2, "mediaType": media.OCI_MANIFEST, "config": _json(config),
           "layers": [_json(d) for d in layers]}
    body = json.dumps(doc, separators=(",", ":")).encode()
    content.put(body)
    return LocalManifest(media.OCI_MANIFEST, body, config, layers)


def _size(content: ContentStore, digest: str) -> int:
    return os.stat(content.path(digest)).st_size


def _json(d: Descriptor) -> dict:
    return {"mediaType": d.media_type, "digest": d.digest, "size": d.size}
