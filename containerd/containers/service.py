"""Containers: metadata plus a writable snapshot over the image's layers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from berth.common.timefmt import rfc3339_nano

from . import users
from ..errors import AlreadyExists, InvalidArgument, NotFound
from ..images import ImageService
from ..metadata import ContainerRecord, Metadata
from ..snapshots import Snapshotter, remap

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,75}$")


def snapshot_key(container_id: str) -> str:
    return "active:" + container_id


@dataclass
class NewContainer:
    id: str
    image: str
    spec: bytes
    runtime: str
    labels: dict[str, str]
    user: str = ""


class ContainerService:
    def __init__(self, images: ImageService, snapshots: Snapshotter, meta: Metadata) -> None:
        self.images = images
        self.snapshots = snapshots
        self.meta = meta

    def create(self, req: NewContainer) -> ContainerRecord:
        if not _ID.match(req.id):
            raise InvalidArgument(f"container id {req.id!r}: must match {_ID.pattern}")
        try:
            spec = json.loads(req.spec) if req.spec else None
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidArgument(f"container spec is not valid JSON: {e}") from None
        if not isinstance(spec, dict) or not isinstance(spec.get("process"), dict):
            raise InvalidArgument("container spec must be an OCI runtime config with a process")
        if self.meta.container(req.id) is not None:
            raise AlreadyExists(f"container {req.id}: already exists")
        img = self.images.get(req.image)
        key = snapshot_key(req.id)
        # a snapshot left by a crash between prepare and insert is reclaimed here
        if self.snapshots.has(key) and self.meta.container(req.id) is None:
            self.snapshots.remove(key)
        mapping = remap.mapping_of(spec)  # --userns-remap: layers shifted for the remapped root
        parent = remap.ensure(self.snapshots, img.chain_id, mapping) if mapping else img.chain_id
        self.snapshots.prepare(key, parent)
        spec_bytes = req.spec
        try:  # nothing of a create that fails here is left behind
            if mapping:
                remap.own_upper(self.snapshots, key, mapping)
            if req.user or users.group_add(spec):  # --user and --group-add: names from the image's files
                spec["process"]["user"] = users.resolve(req.user, lambda p: self.snapshots.read_file(key, p),
                                                        users.group_add(spec))
                spec_bytes = json.dumps(spec).encode()
        except BaseException:
            self.snapshots.remove(key)
            raise
        rec = ContainerRecord(req.id, img.id, spec_bytes, req.runtime, dict(req.labels), rfc3339_nano(), key)
        if not self.meta.put_container(rec):
            self.snapshots.remove(key)
            raise AlreadyExists(f"container {req.id}: already exists")
        return rec

    def reclaim(self) -> None:
        """At start: drop active snapshots whose container row never landed or is gone.

        Create and delete write the row and the snapshot in separate steps, so a crash
        between them leaves a snapshot nobody will ever ask for.
        """
        for key in self.snapshots.active_keys():
            cid = key.split(":", 1)[1]
            if self.meta.container(cid) is None:
                self.snapshots.remove(key)

    def get(self, cid: str) -> ContainerRecord:
        rec = self.meta.container(cid)
        if rec is None:
            raise NotFound(f"container {cid}: not found")
        return rec

    def list(self) -> list[ContainerRecord]:
        return self.meta.containers()

    def delete(self, cid: str) -> None:
        """The caller checks that no task runs (tasks know, containers don't)."""
        rec = self.get(cid)
        self.meta.delete_container(cid)
        self.snapshots.remove(rec.snapshot)
