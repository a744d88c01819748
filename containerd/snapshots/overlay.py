"""The overlayfs snapshotter.

A layer is unpacked once into a committed, read-only snapshot named by its chain
id and shared by every container of every image built on it. A container gets an
active snapshot: an empty upper dir and a work dir over the committed chain. The
snapshotter only computes mounts; the task service mounts them for as long as a
task runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Callable

from ..errors import FailedPrecondition, InvalidArgument, NotFound
from ..diff import apply_layer
from ..metadata import Metadata, SnapshotRecord
from . import remap
from .mounts import Mount


def chain_id(diff_ids: list[str]) -> str:
    """OCI image spec: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    chain = diff_ids[0]
    for diff in diff_ids[1:]:
        chain = "sha256:" + hashlib.sha256(f"{chain} {diff}".encode()).hexdigest()
    return chain


class Snapshotter:
    def __init__(self, root: str, meta: Metadata) -> None:
        self.committed = os.path.join(root, "committed")
        self.active = os.path.join(root, "active")
        self.tmp = os.path.join(root, "tmp")
        self.remapped = os.path.join(root, "remapped")  # layers shifted for --userns-remap (remap.py)
        for d in (self.committed, self.active, self.tmp, self.remapped):
            os.makedirs(d, exist_ok=True)
        shutil.rmtree(self.tmp, ignore_errors=True)  # half-unpacked layers from a crash
        os.makedirs(self.tmp, exist_ok=True)
        self._meta = meta
        self._lock = threading.Lock()
        self._unpacking: dict[str, threading.Event] = {}
        remap.sweep(self, self.remapped)

    def _committed_dir(self, key: str) -> str:
        if key.startswith(remap.PREFIX):
            return os.path.join(self.remapped, key[len(remap.PREFIX):])
        return os.path.join(self.committed, key.split(":", 1)[1])

    def _active_dir(self, key: str) -> str:
        return os.path.join(self.active, key.split(":", 1)[1])

    def layer_path(self, key: str) -> str:
        """The unpacked tree of committed snapshot `key`."""
        return os.path.join(self._committed_dir(key), "fs")

    def has(self, key: str) -> bool:
        return self._meta.snapshot(key) is not None

    def record(self, key: str) -> SnapshotRecord | None:
        return self._meta.snapshot(key)

    def has_children(self, key: str) -> bool:
        return bool(self._meta.snapshot_children(key))

    def keys_with_prefix(self, prefix: str) -> list[str]:
        return self._meta.snapshot_keys(prefix)

    def commit_tree(self, key: str, parent: str, kind: str, build: Callable[[str], None]) -> bool:
        """A read-only snapshot `key` made by `build(dir)` unless it exists; True if made.
        The same key asked twice at once is made once (the second caller waits)."""
        while True:
            with self._lock:
                if self._meta.snapshot(key) is not None and os.path.isdir(self._committed_dir(key)):
                    return False
                running = self._unpacking.get(key)
                if running is None:
                    done = self._unpacking[key] = threading.Event()
                    break
            running.wait()
        try:
            work = os.path.join(self.tmp, uuid.uuid4().hex)
            os.makedirs(os.path.join(work, "fs"))
            try:
                build(os.path.join(work, "fs"))
                os.chmod(work, 0o700)
                target = self._committed_dir(key)
                if os.path.isdir(target):
                    shutil.rmtree(target)  # a leftover whose record a crash lost
                os.rename(work, target)  # the rename is the commit
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
            self._meta.put_snapshot(SnapshotRecord(key, kind, parent))
            return True
        finally:
            with self._lock:
                del self._unpacking[key]
            done.set()

    def unpack(self, key: str, parent: str, blob_path: str, diff_id: str = "", allow_devices: bool = True) -> bool:
        """Unpack a layer blob into the committed snapshot `key` unless it exists; True if it unpacked.

        Layers of one image unpack at the same time (each into its own tree, none reads
        its parent); the same key asked twice at once unpacks once, the second caller
        waiting for the first. A `diff_id` that the uncompressed stream does not hash
        to fails the unpack and leaves nothing behind.
        """
        def build(fs: str) -> None:
            got = apply_layer(blob_path, fs, has_parent=bool(parent), allow_devices=allow_devices)
            if diff_id and got != diff_id:
                raise InvalidArgument(f"unpack layer: diff id mismatch: the layer's tar is {got}, "
                                      f"the image config says {diff_id}")

        return self.commit_tree(key, parent, "committed", build)

    def prepare(self, key: str, parent: str) -> None:
        """An active snapshot over committed `parent`: fresh upper and work dirs."""
        if self._meta.snapshot(parent) is None:
            raise NotFound(f"snapshot {parent}: not found")
        with self._lock:
            if self._meta.snapshot(key) is not None:
                raise FailedPrecondition(f"snapshot {key}: already exists")
            base = self._active_dir(key)
            shutil.rmtree(base, ignore_errors=True)
            os.makedirs(os.path.join(base, "fs"))
            os.makedirs(os.path.join(base, "work"))
            os.chmod(base, 0o700)
            self._meta.put_snapshot(SnapshotRecord(key, "active", parent))

    def mounts(self, key: str) -> list[Mount]:
        rec = self._meta.snapshot(key)
        if rec is None or rec.kind != "active":
            raise NotFound(f"snapshot {key}: not found")
        lowers = []
        parent = rec.parent
        while parent:
            lowers.append(os.path.join(self._committed_dir(parent), "fs"))
            p = self._meta.snapshot(parent)
            parent = p.parent if p else ""
        base = self._active_dir(key)
        return [Mount("overlay", "overlay", [
            "index=off",
            "lowerdir=" + ":".join(lowers),  # topmost layer first, as overlayfs wants
            "upperdir=" + os.path.join(base, "fs"),
            "workdir=" + os.path.join(base, "work"),
        ])]

    def layer_dirs(self, key: str) -> tuple[str, list[str]]:
        """Active snapshot `key`'s upper dir and its lower trees, topmost first: what the
        mount would stack, read in place (size, changes, files of a stopped container)."""
        (lowers,) = [o[len("lowerdir="):].split(":") for o in self.mounts(key)[0].options
                     if o.startswith("lowerdir=")]
        return os.path.join(self._active_dir(key), "fs"), lowers

    def read_file(self, key: str, path: str) -> bytes | None:
        """A file as the container will see it, read from the layers without mounting.

        Top layer first; a whiteout hides what is below; a path that leaves its layer
        through a symlink is not followed (it would read the host's files).
        """
        upper, lowers = self.layer_dirs(key)
        for layer in [upper, *lowers]:
            candidate = os.path.join(layer, path.lstrip("/"))
            if not os.path.lexists(candidate):
                continue
            real = os.path.realpath(candidate)
            if not real.startswith(os.path.realpath(layer) + os.sep) or not os.path.isfile(real):
                return None  # a whiteout (char device), a directory, or an escape
            with open(real, "rb") as f:
                return f.read(1 << 20)
        return None

    def active_keys(self) -> list[str]:
        """Every active snapshot on disk, recorded or not (a crash can leave either)."""
        try:
            return ["active:" + name for name in sorted(os.listdir(self.active))]
        except FileNotFoundError:
            return []

    def remove(self, key: str) -> None:
        """Remove an active snapshot, or a committed one that nothing builds on."""
        rec = self._meta.snapshot(key)
        if rec is None:
            if key.startswith("active:"):
                _rmtree(self._active_dir(key))  # a directory a crash left without its row
            return
        if self._meta.snapshot_children(key):
            raise FailedPrecondition(f"snapshot {key}: has children")
        with self._lock:
            path = self._active_dir(key) if rec.kind == "active" else self._committed_dir(key)
            self._meta.delete_snapshot(key)
            _rmtree(path)
        if rec.kind == "committed":
            remap.drop_copies(self, key)  # its shifted copies nothing builds on
        elif rec.kind == "active" and rec.parent.startswith(remap.PREFIX):
            remap.drop_orphan(self, rec.parent)  # a copy whose source went while we used it

    def remove_unused_chain(self, key: str) -> None:
        """Drop a committed chain from the top down while no image or snapshot uses it."""
        while key:
            rec = self._meta.snapshot(key)
            if rec is None or self._meta.snapshot_children(key) or self._meta.chain_in_use(key):
                return
            self.remove(key)
            key = rec.parent


def _rmtree(path: str) -> None:
    if os.path.lexists(path):
        shutil.rmtree(path, ignore_errors=True)
