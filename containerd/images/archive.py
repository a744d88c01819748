"""docker save: images as one tar that is both a docker-archive and an OCI image layout.

This is the layout dockerd writes since v25, and what every loader reads: blobs under
blobs/sha256/ (configs, manifests, layers as stored: plain, gzip or zstd), index.json
and oci-layout for OCI tools, manifest.json ({Config, RepoTags, Layers} by path) for
`docker load` of any version. The tar is written as it is sent: headers, then each
file read in pieces, so memory does not grow with the images.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from berth.common import reference

from ..errors import NotFound
from ..metadata import ImageRecord
from .manifest import local_manifest
from .service import ImageService

_READ = 1 << 20
_BLOCK = 512


@dataclass
class _Entry:
    img: ImageRecord
    tags: list[str] = field(default_factory=list)   # familiar NAME:TAG


def _selected(svc: ImageService, refs: list[str]) -> list[_Entry]:
    """docker save's rules: a name with a tag saves that tag; a bare repository name,
    every tag of it; an id, the image without names."""
    out: dict[str, _Entry] = {}
    for text in refs:
        tags: list[str] = []
        try:
            ref = reference.parse(text)
        except reference.ReferenceError:
            ref = None
        if ref is not None and not ref.tag and not ref.digest:
            for img in svc.list():
                for name in img.names:
                    r = reference.parse(name)
                    if (r.domain, r.path) == (ref.domain, ref.path) and r.tag:
                        out.setdefault(img.id, _Entry(img)).tags.append(name)
                        tags.append(name)
            if tags:
                continue
        img = svc.get(text)
        entry = out.setdefault(img.id, _Entry(img))
        if ref is not None and ref.tag and not ref.digest:
            entry.tags.append(ref.familiar())
    if not out:
        raise NotFound("no images to save")
    return list(out.values())


def save(svc: ImageService, refs: list[str]) -> Iterator[bytes]:
    """The archive's bytes, in pieces. Resolves every reference before the first piece,
    so an unknown image fails the call rather than cutting the tar short."""
    entries = _selected(svc, refs)
    manifests = [(e, local_manifest(svc.content, e.img)) for e in entries]
    return _stream(svc, manifests)


def _stream(svc: ImageService, manifests: list) -> Iterator[bytes]:
    yield _dir("blobs/")
    yield _dir("blobs/sha256/")
    done: set[str] = set()
    index, docker = [], []
    for entry, m in manifests:
        for d in (m.config.digest, *[layer.digest for layer in m.layers]):
            if d not in done:
                done.add(d)
                yield from _file(f"blobs/sha256/{d[7:]}", svc.content.path(d))
        mdigest = "sha256:" + hashlib.sha256(m.body).hexdigest()
        if mdigest not in done:
            done.add(mdigest)
            yield from _bytes(f"blobs/sha256/{mdigest[7:]}", m.body)
        desc = {"mediaType": m.media_type, "digest": mdigest, "size": len(m.body)}
        for tag in entry.tags or [""]:
            annotations = {}
            if tag:
                ref = reference.parse(tag)
                annotations = {"io.containerd.image.name": str(ref), "org.opencontainers.image.ref.name": ref.tag}
            index.append({**desc, **({"annotations": annotations} if annotations else {})})
        docker.append({"Config": f"blobs/sha256/{m.config.digest[7:]}", "RepoTags": entry.tags or None,
                       "Layers": [f"blobs/sha256/{layer.digest[7:]}" for layer in m.layers]})
    yield from _bytes("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
    yield from _bytes("index.json", json.dumps({"schemaVersion": 2, "mediaType":
                                                "application/vnd.oci.image.index.v1+json",
                                                "manifests": index}).encode())
    yield from _bytes("manifest.json", json.dumps(docker).encode())
    yield b"\0" * (2 * _BLOCK)


def _header(name: str, size: int, kind: bytes = tarfile.REGTYPE, mode: int = 0o644) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode, info.mtime = size, kind, mode, 0
    return info.tobuf(format=tarfile.PAX_FORMAT)


def _dir(name: str) -> bytes:
    return _header(name, 0, tarfile.DIRTYPE, 0o755)


def _pad(size: int) -> bytes:
    return b"\0" * (-size % _BLOCK)


def _bytes(name: str, data: bytes) -> Iterator[bytes]:
    yield _header(name, len(data)) + data + _pad(len(data))


def _file(name: str, path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        yield _header(name, size)
        sent = 0
        while sent < size:
            data = f.read(min(_READ, size - sent))
            if not data:
                raise NotFound(f"{name}: the blob is shorter than it was")
            sent += len(data)
            yield data
    yield _pad(size)
