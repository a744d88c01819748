"""docker commit and the builder's steps: a new image from a base image, a new config,
a history entry and (maybe) one new layer.

The layer is either a container's overlay upper dir (commit, RUN) or a tar of files
applied over the base image (COPY, ADD: extracted into an overlay mount of it, so
that symlinks and existing directories resolve as in a container, then the upper dir
taken as the diff). The upper dir becomes a blob with whiteouts (diff/layer.py): gzip
for docker commit, the plain tar for the builder's steps (dockerd's builder does not
compress either; push, save and pull read both). A container being thrown away (the
builder's) gives its upper dir to the new layer's committed snapshot, moved rather
than unpacked again; otherwise the blob is unpacked.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import stat
import tarfile
import uuid
from dataclasses import dataclass, field
from typing import Iterable

from berth.common.timefmt import rfc3339_nano

from ..containers import users
from ..diff.layer import Layer, Owner, strip_overlay_xattrs, write_layer
from ..diff.safetar import Extractor
from ..errors import FailedPrecondition, InvalidArgument, NotFound
from ..metadata import ImageRecord, SnapshotRecord
from ..snapshots import chain_id, remap
from ..snapshots.mounts import mount, unmount
from .load import _Stream
from .manifest import layer_media_type
from .service import MEDIA_CONFIG, MEDIA_MANIFEST, ImageService, normalize_name

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


@dataclass
class NewImage:
    """What the new image says beyond its layers."""

    parent: str = ""                  # base image ref; "" = scratch (or the container's image)
    config: dict | None = None        # the config's "config" object; None = the parent's
    created_by: str = ""
    comment: str = ""
    author: str = ""
    name: str = ""
    labels: dict = field(default_factory=dict)


def _base_config(svc: ImageService, parent: ImageRecord | None) -> dict:
    if parent is not None:
        return json.loads(parent.config)
    return {"architecture": _ARCH.get(platform.machine(), platform.machine()), "os": "linux", "config": {},
            "rootfs": {"type": "layers", "diff_ids": []}, "history": []}


def _upper(svc: ImageService, key: str) -> str:
    for opt in svc.snapshots.mounts(key)[0].options:
        if opt.startswith("upperdir="):
            return opt[len("upperdir="):]
    raise InvalidArgument(f"snapshot {key}: no upper dir")


def _move_into(svc: ImageService, upper: str, key: str, parent_key: str) -> None:
    """The upper dir becomes committed snapshot `key` (a rename: same filesystem)."""
    if svc.snapshots.has(key):
        shutil.rmtree(upper, ignore_errors=True)  # the same change made before: keep that one
        return
    strip_overlay_xattrs(upper)
    work = os.path.join(svc.snapshots.tmp, uuid.uuid4().hex)
    os.makedirs(work, mode=0o700)
    os.rename(upper, os.path.join(work, "fs"))
    target = os.path.dirname(svc.snapshots.layer_path(key))
    if os.path.isdir(target):
        shutil.rmtree(target)  # a leftover whose record a crash lost
    os.rename(work, target)
    svc.meta.put_snapshot(SnapshotRecord(key, "committed", parent_key))


def _record(svc: ImageService, parent: ImageRecord | None, layer: Layer | None, new: NewImage) -> ImageRecord:
    """The config, manifest and image record over `parent` (and `layer`), named `new.name`."""
    cfg = _base_config(svc, parent)
    created = rfc3339_nano()
    if new.config is not None:
        cfg["config"] = new.config
    cfg["created"] = created
    if new.author:
        cfg["author"] = new.author
    if new.comment:
        cfg["comment"] = new.comment
    entry: dict = {"created": created}
    for k, v in (("author", new.author), ("created_by", new.created_by), ("comment", new.comment)):
        if v:
            entry[k] = v
    if layer is None:
        entry["empty_layer"] = True
    cfg["history"] = [*(cfg.get("history") or []), entry]
    diff_ids = [*(parent.layers if parent else []), *([layer.diff_id] if layer else [])]
    blobs = [*(parent.layer_blobs if parent else []), *([layer.digest] if layer else [])]
    cfg["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    config_bytes = json.dumps(cfg, separators=(",", ":")).encode()
    config_digest, config_size = svc.content.put(config_bytes)
    manifest = {"schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
                "layers": [{"mediaType": layer_media_type(svc.content, b), "digest": b,
                            "size": os.stat(svc.content.path(b)).st_size} for b in blobs]}
    manifest_digest, _ = svc.content.put(json.dumps(manifest, separators=(",", ":")).encode())
    top = chain_id(diff_ids) if diff_ids else ""
    size = (parent.size if parent else 0) + (svc.layer_size(top) if layer else 0)
    record = ImageRecord(id=config_digest, manifest_digest=manifest_digest, config=config_bytes, size=size,
                         layers=diff_ids, layer_blobs=blobs, chain_id=top, created=created,
                         parent=parent.id if parent else "", made=True)
    name = normalize_name(new.name)
    with svc.meta.tx():
        svc.meta.put_image(record)
        if name:
            svc.meta.set_name(name, record.id)
    return svc.get(record.id)


def _layer_from_upper(svc: ImageService, parent: ImageRecord | None, upper: str, consume: bool, plain: bool,
                      owner: Owner | None = None) -> Layer:
    """`consume`: the upper dir moves into the snapshot; `plain` (the builder's steps): the
    blob is the plain tar, as Docker's builder keeps its layers; `owner` maps the ids (a
    remapped container's, back to the image's)."""
    layer = write_layer(upper, svc.content, compress=not plain, owner=owner)
    diff_ids = [*(parent.layers if parent else []), layer.diff_id]
    key, parent_key = chain_id(diff_ids), parent.chain_id if parent else ""
    if consume:
        _move_into(svc, upper, key, parent_key)
    else:
        svc.snapshots.unpack(key, parent_key, svc.content.path(layer.digest), diff_id=layer.diff_id)
    return layer


def commit_container(svc: ImageService, cid: str, new: NewImage, consume: bool, has_task: bool) -> ImageRecord:
    """docker commit: the container's changes over its image. `consume`: the container
    goes next (the builder's RUN), its upper dir moves into the new layer."""
    rec = svc.meta.container(cid)
    if rec is None:
        raise NotFound(f"container {cid}: not found")
    if consume and has_task:
        raise FailedPrecondition(f"container {cid}: its task must be deleted before its changes are consumed")
    parent = svc.get(new.parent or rec.image)
    upper = _upper(svc, rec.snapshot)
    mapping = remap.mapping_of(json.loads(rec.spec))  # --userns-remap: the upper dir holds host ids
    plain = consume  # the builder's steps
    consume = consume and mapping is None  # its files are not the layer's as they are: unpack it
    with svc.lease([parent.chain_id]):
        layer = _layer_from_upper(svc, parent, upper, consume, plain, mapping.unshift if mapping else None)
        if consume:
            os.makedirs(upper, exist_ok=True)  # the container's snapshot stays whole until it goes
        with svc.lease([layer.digest, chain_id([*parent.layers, layer.diff_id])]):
            return _record(svc, parent, layer, new)


def config_only(svc: ImageService, new: NewImage) -> ImageRecord:
    """A step that changes only the config (ENV, CMD, LABEL...): no layer, an
    empty_layer history entry."""
    parent = svc.get(new.parent) if new.parent else None
    return _record(svc, parent, None, new)


class _Owned(Extractor):
    """Every entry owned by one uid:gid (COPY --chown)."""

    def __init__(self, dest: str, owner: tuple[int, int] | None) -> None:
        super().__init__(dest, has_parent=True, allow_devices=False)
        self.owner = owner

    def _entry(self, tar: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        if info.isdir() and self._is_dir(info.name):
            return  # a directory the image has keeps its owner and mode (COPY into /usr, WORKDIR)
        if self.owner is not None:
            info.uid, info.gid = self.owner
        super()._entry(tar, info)

    def _is_dir(self, name: str) -> bool:
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            return bool(not parts)
        try:
            parent = self.root.dir("/".join(parts[:-1]))
            return stat.S_ISDIR(os.stat(parts[-1], dir_fd=parent, follow_symlinks=False).st_mode)
        except OSError:
            return False


def apply_tar(svc: ImageService, chunks: Iterable[bytes], chown: str, new: NewImage) -> ImageRecord:
    """COPY and ADD: the tar's entries written over the parent image (names relative to
    its root), owned by `chown` (resolved against the image's passwd and group) if set."""
    parent = svc.get(new.parent) if new.parent else None
    tmp = os.path.join(svc.snapshots.tmp, "apply-" + uuid.uuid4().hex)
    os.makedirs(tmp, mode=0o700)
    key = "active:build-" + uuid.uuid4().hex
    mounted = ""
    try:
        with svc.lease([parent.chain_id] if parent else []):
            if parent is not None:
                svc.snapshots.prepare(key, parent.chain_id)
                mounted = os.path.join(tmp, "rootfs")
                os.mkdir(mounted)
                mount(svc.snapshots.mounts(key)[0], mounted)
                dest, upper = mounted, _upper(svc, key)
                read = lambda p: svc.snapshots.read_file(key, p)  # noqa: E731
            else:
                dest = upper = os.path.join(tmp, "fs")
                os.mkdir(upper)
                read = lambda p: None  # noqa: E731 - scratch has no passwd: numbers only
            owner = None
            if chown:
                u = users.resolve(chown, read)
                owner = (u["uid"], u["gid"])
            _Owned(dest, owner).run(_Stream(chunks))  # type: ignore[arg-type]
            if mounted:
                unmount(mounted)
                mounted = ""
            layer = _layer_from_upper(svc, parent, upper, consume=True, plain=True)
            with svc.lease([layer.digest, chain_id([*(parent.layers if parent else []), layer.diff_id])]):
                return _record(svc, parent, layer, new)
    finally:
        if mounted:
            unmount(mounted)
        if parent is not None and svc.snapshots.has(key):
            svc.snapshots.remove(key)
        shutil.rmtree(tmp, ignore_errors=True)


def parse_config(raw: bytes) -> dict | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"commit: config is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise InvalidArgument("commit: config must be a JSON object")
    return value
