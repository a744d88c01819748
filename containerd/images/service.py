"""Images: docker-import of a tarball, and names (references) pointing at images.

An imported tar becomes one layer. We store the layer blob as received (plain or
gzip), an OCI image config and an OCI manifest in the content store, unpack the
layer into its committed snapshot, and record the image and its name in metadata.
The image id is "sha256:" + the config digest, as Docker's is.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import threading
import zlib
from typing import Iterable, Iterator

from berth.common import reference
from berth.common.timefmt import rfc3339_nano

from ..content import ContentStore
from ..errors import BerthError, InvalidArgument, NotFound
from ..metadata import ImageRecord, Metadata
from .manifest import own_manifest
from ..snapshots import Snapshotter, chain_id

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x"}


def normalize_name(name: str) -> str:
    """An image name as stored: docker's familiar form with its tag (`busybox` →
    `busybox:latest`, `docker.io/library/busybox` → `busybox:latest`)."""
    if not name:
        return ""
    try:
        return reference.normalize(name)
    except reference.ReferenceError as e:
        raise InvalidArgument(str(e)) from None


class ImageService:
    def __init__(self, content: ContentStore, snapshots: Snapshotter, meta: Metadata) -> None:
        self.content = content
        self.snapshots = snapshots
        self.meta = meta
        self._leases: dict[str, int] = {}
        self._lease_lock = threading.Lock()
        if meta.made_pending:
            self._mark_made()
            meta.made_worked_out()

    def _mark_made(self) -> None:
        """Once, over the records of a berth that had no `made` column: an image whose
        manifest is the one berth makes for its record was made here."""
        for img in self.meta.images():
            try:
                ours = self.content.read(img.manifest_digest) == own_manifest(self.content, img).body
            except (OSError, BerthError):
                continue  # a blob gone: push remakes the manifest anyway
            if ours:
                self.meta.set_made(img.id)

    # ---------------------------------------------------------------- import
    def import_tar(self, name: str, config_changes: bytes, chunks: Iterable[bytes]) -> tuple[ImageRecord, str | None]:
        """Store and unpack the tarball; returns the image and the id a moved name left."""
        name = normalize_name(name)
        changes = _parse_changes(config_changes)
        layer_digest, layer_size, diff_id, gzipped = self._ingest_layer(chunks)
        layer_media = MEDIA_LAYER + ("+gzip" if gzipped else "")
        key = chain_id([diff_id])
        try:
            self.snapshots.unpack(key, "", self.content.path(layer_digest))
        except BaseException:
            if not self._blob_in_use(layer_digest):
                self.content.delete(layer_digest)
            raise
        created = rfc3339_nano()
        config = {
            "architecture": _ARCH.get(platform.machine(), platform.machine()),
            "os": "linux",
            "config": changes,
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": created, "comment": "Imported from -"}],
            "created": created,
        }
        config_bytes = json.dumps(config, separators=(",", ":")).encode()
        config_digest, config_size = self.content.put(config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": layer_media, "digest": layer_digest, "size": layer_size}],
        }
        manifest_digest, _ = self.content.put(json.dumps(manifest, separators=(",", ":")).encode())
        record = ImageRecord(
            id=config_digest, manifest_digest=manifest_digest, config=config_bytes,
            size=_tree_size(self.snapshots.layer_path(key)),
            layers=[diff_id], layer_blobs=[layer_digest], chain_id=key, created=created, made=True,
        )
        moved_from = None
        with self.meta.tx():
            self.meta.put_image(record)
            if name:
                moved_from = self.meta.set_name(name, record.id)
        return self.get(record.id), moved_from

    def _ingest_layer(self, chunks: Iterable[bytes]) -> tuple[str, int, str, bool]:
        """Write the tar to the content store, hashing the uncompressed stream for the diff id."""
        writer = self.content.writer()
        diff = hashlib.sha256()
        inflate: "zlib._Decompress | None" = None
        first = True
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                if first:
                    first = False
                    if chunk[:2] == b"\x1f\x8b":
                        inflate = zlib.decompressobj(wbits=31)
                writer.write(chunk)
                if inflate is not None:
                    diff.update(inflate.decompress(chunk))
                else:
                    diff.update(chunk)
            if first:
                raise InvalidArgument("import: empty tarball")
            if inflate is not None:
                diff.update(inflate.flush())
                if not inflate.eof:
                    raise InvalidArgument("import: truncated gzip stream")
        except zlib.error as e:
            writer.abort()
            raise InvalidArgument(f"import: bad gzip stream: {e}") from None
        except BaseException:
            writer.abort()
            raise
        digest, size = writer.commit()
        return digest, size, "sha256:" + diff.hexdigest(), inflate is not None

    # ---------------------------------------------------------------- lookup
    def resolve(self, ref: str) -> str:
        """name[:tag], full id, bare hex id, short id prefix, or manifest digest → image id."""
        if not ref:
            raise InvalidArgument("image reference is empty")
        images = self.meta.images()
        if ref.startswith("sha256:"):
            for img in images:
                if ref in (img.id, img.manifest_digest):
                    return img.id
            if len(ref) < 71:  # "sha256:" + a prefix
                return self._by_prefix(ref[7:], images, ref)
            raise NotFound(f"image {ref}: not found")
        try:
            name = normalize_name(ref)
        except InvalidArgument:
            name = ""
        if name:
            image_id = self.meta.image_for_name(name)
            if image_id:
                return image_id
        if all(c in "0123456789abcdef" for c in ref) and len(ref) >= 4:
            return self._by_prefix(ref, images, ref)
        raise NotFound(f"image {ref}: not found")

    @staticmethod
    def _by_prefix(prefix: str, images: list[ImageRecord], ref: str) -> str:
        hits = [img.id for img in images if img.id[7:].startswith(prefix)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise InvalidArgument(f"image {ref}: ambiguous short id")
        raise NotFound(f"image {ref}: not found")

    def get(self, ref: str) -> ImageRecord:
        image_id = self.resolve(ref)
        img = self.meta.image(image_id)
        if img is None:
            raise NotFound(f"image {ref}: not found")
        return img

    def list(self) -> list[ImageRecord]:
        return self.meta.images()

    def tag(self, ref: str, name: str) -> tuple[ImageRecord, str | None]:
        image_id = self.resolve(ref)
        name = normalize_name(name)
        if not name:
            raise InvalidArgument("tag: name is empty")
        moved_from = self.meta.set_name(name, image_id)
        return self.get(image_id), moved_from

    # ---------------------------------------------------------------- leases
    @contextlib.contextmanager
    def lease(self, keys: Iterable[str]) -> Iterator[None]:
        """Blobs and snapshots an operation in progress (a pull) is making or relies on:
        no delete or garbage collection removes them until it ends."""
        keys = list(keys)
        with self._lease_lock:
            for k in keys:
                self._leases[k] = self._leases.get(k, 0) + 1
        try:
            yield
        finally:
            with self._lease_lock:
                for k in keys:
                    self._leases[k] -= 1
                    if not self._leases[k]:
                        del self._leases[k]

    def leased(self, key: str) -> bool:
        with self._lease_lock:
            return key in self._leases

    def _blob_in_use(self, digest: str) -> bool:
        return any(digest in img.layer_blobs for img in self.meta.images())

    # ------------------------------------------------------------------ pull
    def blob_in_use(self, digest: str) -> bool:
        """Some image's layer: a failed pull must not delete it."""
        return self._blob_in_use(digest)

    def layer_size(self, key: str) -> int:
        return _tree_size(self.snapshots.layer_path(key))

    def record_pulled(self, record: ImageRecord, name: str, digest_name: str = "") -> bool:
        """Record a pulled image and point `name` at it, and `digest_name` (REPO@DIGEST,
        docker's RepoDigests); True if the name moved (docker's "Downloaded newer image"
        rather than "Image is up to date")."""
        with self.meta.tx():
            before = self.meta.image_for_name(name)
            self.meta.put_image(record)
            self.meta.set_name(name, record.id)
            if digest_name and digest_name != name:
                self.meta.set_name(digest_name, record.id)
        return before != record.id  # an image the name left stays, nameless, as docker's <none>

    def record_pushed(self, image_id: str, digest_name: str) -> None:
        """After a push, REPO@DIGEST names the image (docker adds it to RepoDigests)."""
        self.meta.set_name(digest_name, image_id)


def _parse_changes(raw: bytes) -> dict:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"import: config is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise InvalidArgument("import: config must be a JSON object")
    return {k: v for k, v in value.items() if v is not None}


def _tree_size(root: str) -> int:
    """Bytes of the unpacked layer, as Docker's image Size (files, not blocks)."""
    total = 0
    for dirpath, dirs, files in os.walk(root):
        for name in files + dirs:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            if st.st_mode & 0o170000 != 0o040000:  # not a directory
                total += st.st_size
    return total
