"""docker load: a docker-archive (any dockerd's `docker save`) or an OCI image layout.

The tar (plain or compressed) is read as a stream into a scratch directory under the
snapshotter's tmp/ (emptied at start-up, so a crash leaves nothing): only regular
files, under names that stay inside it; links inside the archive (dockerd before v25
links a layer shared by two images) are followed by name, never on disk. Then
manifest.json (docker) or index.json (OCI) says what the images are. Each layer goes
into the content store as it is (OCI blobs verified against their digest) and is
unpacked into its snapshot, where its uncompressed stream must hash to the config's
diff id; the image record is written last.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import tarfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from berth.common import reference

from ..errors import InvalidArgument
from ..metadata import ImageRecord
from ..remotes import host_platform, media
from ..snapshots import chain_id
from .manifest import layer_media_type
from .service import ImageService

Say = Callable[[str], None]
_READ = 1 << 20


@dataclass
class _Scratch:
    root: str
    links: dict[str, str]

    def path(self, name: str, depth: int = 0) -> str:
        """The file an archive name stands for, following the archive's own links."""
        name = _clean(name)
        if name in self.links and depth < 16:
            return self.path(self.links[name], depth + 1)
        path = os.path.join(self.root, name)
        if not os.path.isfile(path):
            raise InvalidArgument(f"load: the archive has no file {name}")
        return path

    def read(self, name: str, limit: int = 16 << 20) -> bytes:
        with open(self.path(name), "rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise InvalidArgument(f"load: {name} is too large")
        return data


def _clean(name: str) -> str:
    norm = posixpath.normpath("/" + name).lstrip("/")
    if not norm or norm == "." or ".." in norm.split("/"):
        raise InvalidArgument(f"load: invalid archive entry name {name!r}")
    return norm


class _Stream:
    """The request's chunks as a file, for tarfile's stream mode."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            piece = next(self._it, None)
            if piece is None:
                break
            self._buf += piece
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out


def _unpack(chunks: Iterable[bytes], root: str) -> _Scratch:
    scratch = _Scratch(root, {})
    try:
        tar = tarfile.open(fileobj=_Stream(chunks), mode="r|*")  # type: ignore[arg-type]
    except tarfile.TarError as e:
        raise InvalidArgument(f"load: not a tar archive: {e}") from None
    try:
        for member in tar:
            name = _clean(member.name)
            if member.issym() or member.islnk():
                target = member.linkname if member.islnk() else posixpath.join(posixpath.dirname(name),
                                                                                  member.linkname)
                scratch.links[name] = _clean(target)
            elif member.isfile():
                path = os.path.join(root, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                src = tar.extractfile(member)
                assert src is not None
                with open(path, "wb") as out:
                    shutil.copyfileobj(src, out, _READ)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise InvalidArgument(f"load: unexpected EOF or a broken archive: {e}") from None
    finally:
        tar.close()
    return scratch


def load(svc: ImageService, chunks: Iterable[bytes], say: Say) -> list[str]:
    """Load every image of the archive; `say` gets docker's lines; returns the image ids."""
    root = os.path.join(svc.snapshots.tmp, "load-" + uuid.uuid4().hex)
    os.makedirs(root)
    try:
        scratch = _unpack(chunks, root)
        if os.path.isfile(os.path.join(root, "manifest.json")) or "manifest.json" in scratch.links:
            try:
                entries = json.loads(scratch.read("manifest.json"))
            except ValueError as e:
                raise InvalidArgument(f"load: manifest.json: {e}") from None
            if not isinstance(entries, list):
                raise InvalidArgument("load: manifest.json is not a list")
            return [_docker_image(svc, scratch, e, say) for e in entries]
        if os.path.isfile(os.path.join(root, "index.json")):
            return _oci_images(svc, scratch, say)
        raise InvalidArgument("load: the archive has neither manifest.json (docker save) nor index.json (OCI)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _docker_image(svc: ImageService, scratch: _Scratch, entry: dict, say: Say) -> str:
    if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
        raise InvalidArgument("load: manifest.json: an entry without Config")
    config_bytes = scratch.read(entry["Config"])
    layers = [scratch.path(p) for p in entry.get("Layers") or []]
    try:
        names = [reference.normalize(str(t)) for t in entry.get("RepoTags") or []]
    except reference.ReferenceError as e:
        raise InvalidArgument(f"load: manifest.json: {e}") from None
    return _store(svc, config_bytes, layers, [""] * len(layers), names, say)


def _oci_images(svc: ImageService, scratch: _Scratch, say: Say) -> list[str]:
    index = media.decode(scratch.read("index.json"), "index.json")
    ids = []
    for d in index.get("manifests") or []:
        desc = media.descriptor(d, "index.json")
        doc = media.decode(_blob(scratch, desc.digest), "manifest")
        if media.media_type_of(doc, desc.media_type) in media.INDEX_TYPES:
            desc = media.select(doc, host_platform())
            doc = media.decode(_blob(scratch, desc.digest), "manifest")
        m = media.image_manifest(doc)
        ann = (d.get("annotations") or {}) if isinstance(d, dict) else {}
        ids.append(_store(svc, _blob(scratch, m.config.digest), [_blob_path(scratch, x.digest) for x in m.layers],
                          [x.digest for x in m.layers], _oci_names(ann), say))
    return ids


def _oci_names(ann: dict) -> list[str]:
    """containerd's full name annotation, else ref.name when it is a whole reference
    (a bare tag, as skopeo writes, names no repository: the image loads untagged)."""
    for key in ("io.containerd.image.name", "org.opencontainers.image.ref.name"):
        text = str(ann.get(key) or "")
        if text and ("/" in text or ":" in text):
            try:
                return [reference.parse(text).with_default_tag().familiar()]
            except reference.ReferenceError:
                continue
    return []


def _blob_path(scratch: _Scratch, digest: str) -> str:
    alg, _, hexpart = digest.partition(":")
    return scratch.path(f"blobs/{alg}/{hexpart}")


def _blob(scratch: _Scratch, digest: str) -> bytes:
    data = scratch.read(_blob_path(scratch, digest)[len(scratch.root) + 1:])
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise InvalidArgument(f"load: blob {digest} does not match its digest")
    return data


def _store(svc: ImageService, config_bytes: bytes, layers: list[str], digests: list[str], names: list[str],
           say: Say) -> str:
    config = media.decode(config_bytes, "image config")
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if not layers or len(diff_ids) != len(layers):
        raise InvalidArgument(f"load: the image config lists {len(diff_ids)} layers, the archive {len(layers)}")
    chains = [chain_id(diff_ids[:i + 1]) for i in range(len(diff_ids))]
    blobs = []
    with svc.lease(chains):
        for i, path in enumerate(layers):
            blob = _ingest(svc, path, digests[i] or None)
            blobs.append(blob)
            with svc.lease([blob]):
                try:
                    svc.snapshots.unpack(chains[i], chains[i - 1] if i else "", svc.content.path(blob),
                                         diff_id=diff_ids[i], allow_devices=os.geteuid() == 0)
                except InvalidArgument:
                    if not svc.blob_in_use(blob):
                        svc.content.delete(blob)  # a bad layer is not kept under its digest
                    raise
        image_id, _ = svc.content.put(config_bytes)
        manifest = {"schemaVersion": 2, "mediaType": media.OCI_MANIFEST,
                    "config": {"mediaType": media.CONFIG_TYPES[0], "digest": image_id, "size": len(config_bytes)},
                    "layers": [{"mediaType": layer_media_type(svc.content, b), "digest": b,
                                "size": os.stat(svc.content.path(b)).st_size} for b in blobs]}
        manifest_digest, _ = svc.content.put(json.dumps(manifest, separators=(",", ":")).encode())
        record = ImageRecord(id=image_id, manifest_digest=manifest_digest, config=config_bytes,
                             size=sum(svc.layer_size(c) for c in chains), layers=list(diff_ids), layer_blobs=blobs,
                             chain_id=chains[-1], created=str(config.get("created") or ""), made=True)
        with svc.meta.tx():
            svc.meta.put_image(record)
            for name in names:
                old = svc.meta.set_name(name, image_id)
                if old:
                    say(f"The image {name} already exists, renaming the old one with ID {old} to empty string")
    for name in names:
        say(f"Loaded image: {name}")
    if not names:
        say(f"Loaded image ID: {image_id}")
    return image_id


def _ingest(svc: ImageService, path: str, expected: str | None) -> str:
    w = svc.content.writer()
    try:
        with open(path, "rb") as f:
            while data := f.read(_READ):
                w.write(data)
    except BaseException:
        w.abort()
        raise
    return w.commit(expected=expected)[0]
