"""The content store: immutable blobs addressed by their sha256 digest.

A blob becomes visible only once it is complete and its digest verified: it is
written under ingest/, fsynced, then renamed into blobs/sha256/<hex>.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass, field

from ..errors import InvalidArgument, NotFound

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def check_digest(digest: str) -> str:
    if not _DIGEST.match(digest):
        raise InvalidArgument(f"invalid digest {digest!r}")
    return digest


@dataclass
class Writer:
    """An open ingest: bytes go to a temp file and into the running hash."""

    store: "ContentStore"
    path: str
    fd: int
    hasher: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    size: int = 0

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        self.hasher.update(data)
        self.size += len(data)

    def commit(self, expected: str | None = None) -> tuple[str, int]:
        """Seal the blob; returns (digest, size). A mismatch with `expected` discards it."""
        digest = "sha256:" + self.hasher.hexdigest()
        try:
            os.fsync(self.fd)
        finally:
            os.close(self.fd)
            self.fd = -1
        if expected is not None and expected != digest:
            os.unlink(self.path)
            raise InvalidArgument(f"unexpected commit digest {digest}, expected {expected}")
        target = self.store.path(digest)
        if os.path.exists(target):
            os.unlink(self.path)  # same content already stored
        else:
            os.rename(self.path, target)
            _fsync_dir(os.path.dirname(target))
        return digest, self.size

    def abort(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if os.path.exists(self.path):
            os.unlink(self.path)


class ContentStore:
    def __init__(self, root: str) -> None:
        self.blobs = os.path.join(root, "blobs", "sha256")
        self.ingest = os.path.join(root, "ingest")
        os.makedirs(self.blobs, exist_ok=True)
        os.makedirs(self.ingest, exist_ok=True)
        # Ingests interrupted by a crash are garbage.
        for name in os.listdir(self.ingest):
            os.unlink(os.path.join(self.ingest, name))

    def path(self, digest: str) -> str:
        return os.path.join(self.blobs, check_digest(digest).split(":", 1)[1])

    def writer(self) -> Writer:
        path = os.path.join(self.ingest, uuid.uuid4().hex)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        return Writer(self, path, fd)

    def put(self, data: bytes) -> tuple[str, int]:
        w = self.writer()
        try:
            w.write(data)
        except BaseException:
            w.abort()
            raise
        return w.commit()

    def read(self, digest: str) -> bytes:
        try:
            with open(self.path(digest), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
