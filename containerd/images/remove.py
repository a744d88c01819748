"""Removing images (dockerd's rules, daemon/images/image_delete.go) and collecting
what nothing references any more.

A name untags; the image goes with its last name unless a container or a child image
(one committed over it: the builder's steps) holds it. An id deletes, refused while the
image has several references or a stopped container uses it (unless forced), and always
while a running container or a child does ("cannot be forced"). A deleted image's untagged
parents go with it, up to the first one something else holds (unless noprune).
The blobs and committed snapshots an image leaves go with it when no other image,
container or operation in progress (a pull's lease) uses them; collect() sweeps
whatever else is unreferenced: an interrupted pull's layers, orphaned indexes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field

from berth.common import reference

from ..errors import FailedPrecondition, InvalidArgument
from ..metadata import ImageRecord
from ..snapshots import chain_id
from .service import ImageService, _tree_size

Running = Callable[[str], bool]


@dataclass
class DeleteResult:
    untagged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)      # image ids
    layers: list[str] = field(default_factory=list)       # chain ids of the layers removed
    reclaimed: int = 0


class _Conflict(FailedPrecondition):
    def __init__(self, image_id: str, hard: bool, used: bool, message: str, children: bool = False) -> None:
        force = "cannot be forced" if hard else "must be forced"
        super().__init__(f"conflict: unable to delete {image_id[7:19]} ({force}) - {message}")
        self.used, self.children = used, children


def _repo(name: str) -> str:
    return name.split("@", 1)[0] if "@" in name else reference.split_tag(name)[0]


def _single_reference(names: list[str]) -> bool:
    """At most one tag, and every name in that one repository (dockerd's isSingleReference)."""
    if len(names) <= 1:
        return len(names) == 1
    tags = [n for n in names if "@" not in n]
    if len(tags) > 1:
        return False
    repos = {_repo(n) for n in names if "@" in n}
    single = _repo(tags[0] if tags else names[0])
    return repos == {single}


def _is_id_prefix(image_id: str, ref: str) -> bool:
    return image_id.startswith(ref) or image_id[7:].startswith(ref)


def delete(svc: ImageService, ref: str, force: bool, running: Running, noprune: bool = False) -> DeleteResult:
    image_id = svc.resolve(ref)
    img = svc.meta.image(image_id)
    assert img is not None
    res = DeleteResult()
    users = svc.meta.containers_using(image_id)
    quiet = False
    name = ""
    if not _is_id_prefix(image_id, ref):
        try:
            name = reference.parse(ref).with_default_tag().familiar()
        except reference.ReferenceError:
            name = ""
    if name:
        if not force and _single_reference(img.names) and users:
            raise FailedPrecondition(
                f'conflict: unable to remove repository reference "{ref}" (must force) - '
                f"container {users[0][:12]} is using its referenced image {image_id[7:19]}")
        svc.meta.remove_name(name)
        res.untagged.append(name)
        left = [n for n in img.names if n != name]
        if "@" not in name and not any("@" not in n and _repo(n) == _repo(name) for n in left):
            for other in [n for n in left if "@" in n and _repo(n) == _repo(name)]:
                svc.meta.remove_name(other)  # a tag's last removal takes its repo's digests along
                res.untagged.append(other)
                left.remove(other)
        if left:
            return res
        quiet = True
    elif _single_reference(img.names):
        _check(svc, img, force, running, with_references=False)
        for n in img.names:
            svc.meta.remove_name(n)
            res.untagged.append(n)
    img = svc.meta.image(image_id)
    assert img is not None
    try:
        _check(svc, img, force, running, with_references=True)
    except _Conflict as e:
        if quiet and (img.names or e.used or e.children):
            return res  # untagged; the image stays for the container or the child that holds it
        raise
    for n in img.names:
        svc.meta.remove_name(n)
        res.untagged.append(n)
    _remove(svc, img, res)
    if not noprune:
        _prune_parents(svc, img.parent, running, res)
    return res


def _prune_parents(svc: ImageService, parent: str, running: Running, res: DeleteResult) -> None:
    """The untagged parents, as dockerd's prune of a deleted image's parent: quietly, up to
    the first one with a name, another child or a container."""
    while parent:
        img = svc.meta.image(parent)
        if img is None:
            return
        try:
            _check(svc, img, False, running, with_references=True)
        except _Conflict:
            return
        _remove(svc, img, res)
        parent = img.parent


def _check(svc: ImageService, img: ImageRecord, force: bool, running: Running, with_references: bool) -> None:
    if svc.meta.image_children(img.id):
        raise _Conflict(img.id, True, False, "image has dependent child images", children=True)
    users = svc.meta.containers_using(img.id)
    live = [c for c in users if running(c)]
    if live:
        raise _Conflict(img.id, True, True, f"image is being used by running container {live[0][:12]}")
    if force:
        return
    if with_references and img.names:
        raise _Conflict(img.id, False, False, "image is referenced in multiple repositories")
    if users:
        raise _Conflict(img.id, False, True, f"image is being used by stopped container {users[0][:12]}")


def _remove(svc: ImageService, img: ImageRecord, res: DeleteResult) -> None:
    svc.meta.delete_image(img.id)
    res.deleted.append(img.id)
    key = img.chain_id
    while key and not svc.leased(key):
        rec = svc.meta.snapshot(key)
        if rec is None or svc.meta.snapshot_children(key) or svc.meta.chain_in_use(key):
            break
        res.reclaimed += _tree_size(svc.snapshots.layer_path(key))
        svc.snapshots.remove(key)
        res.layers.append(key)
        key = rec.parent
    for blob in dict.fromkeys((img.manifest_digest, img.id, *img.layer_blobs)):
        if svc.leased(blob) or _referenced(svc, blob):
            continue
        res.reclaimed += _blob_size(svc, blob)
        svc.content.delete(blob)
        svc.meta.forget_blob(blob)
    _forget_compressed(svc, img, res)


def _forget_compressed(svc: ImageService, img: ImageRecord, res: DeleteResult) -> None:
    """A push's gzip of a layer goes with the last image that has the layer."""
    used = {d for i in svc.meta.images() for d in i.layers}
    for diff_id in dict.fromkeys(img.layers):
        digest = svc.meta.compressed(diff_id)
        if digest is None or diff_id in used:
            continue
        svc.meta.forget_compressed(diff_id)
        if svc.leased(digest) or _referenced(svc, digest):
            continue
        res.reclaimed += _blob_size(svc, digest)
        svc.content.delete(digest)
        svc.meta.forget_blob(digest)


def _referenced(svc: ImageService, digest: str) -> bool:
    return any(digest in (i.id, i.manifest_digest, *i.layer_blobs) for i in svc.meta.images())


def _blob_size(svc: ImageService, digest: str) -> int:
    try:
        return os.stat(svc.content.path(digest)).st_size
    except (FileNotFoundError, InvalidArgument):
        return 0


def collect(svc: ImageService) -> tuple[list[str], int]:
    """Remove every blob and committed snapshot that no image, container or lease uses;
    returns what went (digests, chain ids) and the bytes freed."""
    images = svc.meta.images()
    blobs: set[str] = set()
    chains: set[str] = set()
    compressed = svc.meta.compressed_layers()
    for img in images:
        blobs.update((img.id, img.manifest_digest, *img.layer_blobs))
        blobs.update(compressed[d] for d in img.layers if d in compressed)  # a push's gzip, kept for the next
        chains.update(chain_id(img.layers[:i + 1]) for i in range(len(img.layers)))
    for diff_id in set(compressed) - {d for img in images for d in img.layers}:
        svc.meta.forget_compressed(diff_id)
    for rec in svc.meta.snapshots():
        if rec.kind == "active":
            parent = rec.parent
            while parent and parent not in chains:
                chains.add(parent)
                p = svc.meta.snapshot(parent)
                parent = p.parent if p else ""
    removed: list[str] = []
    freed = 0
    progress = True
    while progress:  # leaves first: a snapshot goes once nothing builds on it
        progress = False
        for rec in svc.meta.snapshots():
            if rec.kind != "committed" or rec.key in chains or svc.leased(rec.key):
                continue
            if svc.meta.snapshot_children(rec.key):
                continue
            freed += _tree_size(svc.snapshots.layer_path(rec.key))
            svc.snapshots.remove(rec.key)
            removed.append(rec.key)
            progress = True
    recorded = {r.key.split(":", 1)[1] for r in svc.meta.snapshots() if r.kind == "committed"}
    for name in os.listdir(svc.snapshots.committed):
        if name not in recorded and not svc.leased("sha256:" + name):  # a crash's leftover
            path = os.path.join(svc.snapshots.committed, name)
            freed += _tree_size(path)
            shutil.rmtree(path, ignore_errors=True)
            removed.append("sha256:" + name)
    for name in os.listdir(svc.content.blobs):
        digest = "sha256:" + name
        if digest in blobs or svc.leased(digest):
            continue
        freed += _blob_size(svc, digest)
        svc.content.delete(digest)
        svc.meta.forget_blob(digest)
        removed.append(digest)
    return removed, freed
