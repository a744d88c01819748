"""Push's gzip of a plain layer, made once and kept, as dockerd's push does.

The builder stores its layers as plain tars (digest = diff id), as dockerd keeps its
layers uncompressed; a registry, and every engine pulling from it, expects gzip. So the
first push of a plain layer compresses it (streamed from its blob into the content
store, never whole in memory; zlib level 6, Go's gzip.DefaultCompression, in blocks on
every core; a gzip header without a time, so the same layer always gives the same blob)
and records diff id -> gzip digest in the metadata store; later pushes, to any registry,
send that blob again (moby's v2 metadata service keeps the same mapping). The blob lives
as long as an image has the layer (images/remove.py).
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from ..content import ContentStore
from ..content.store import Writer
from ..errors import InvalidArgument
from ..metadata import Metadata
from ..remotes.media import Descriptor

GZIP_LEVEL = 6  # gzip.DefaultCompression in Go's compress/gzip
BLOCK = 1 << 20  # compressed apart (but for the window before it), on all cores
_WINDOW = 32 << 10
_SAMPLE = 4 << 10
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, mtime 0, OS unknown (as Go's)
_WORKERS = os.cpu_count() or 1
_pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="gzip")  # zlib drops the GIL
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def is_plain(content: ContentStore, digest: str) -> bool:
    """Neither gzip nor zstd: a tar as the builder (or an import) stored it."""
    with open(content.path(digest), "rb") as f:
        magic = f.read(4)
    return magic[:2] != b"\x1f\x8b" and magic != b"\x28\xb5\x2f\xfd"


def lock(diff_id: str) -> threading.Lock:
    """Held while a layer's gzip is looked up or made: two pushes of it compress it once."""
    with _locks_guard:
        return _locks.setdefault(diff_id, threading.Lock())


def known(content: ContentStore, meta: Metadata, diff_id: str, media_type: str) -> Descriptor | None:
    """The gzip recorded for the layer, if its blob is still here."""
    digest = meta.compressed(diff_id)
    if digest and content.exists(digest):
        return Descriptor(media_type, digest, os.stat(content.path(digest)).st_size)
    return None


@dataclass
class Growing:
    """A gzip being written into the content store, readable (fd) while it grows: push
    sends it as it is made, as dockerd's push compresses into the upload."""

    fd: int                 # the ingest file, opened for reading: still valid once it is renamed
    size: int = 0           # bytes written so far
    finished: bool = False
    digest: str = ""        # once finished
    error: BaseException | None = None
    cancelled: bool = False
    cond: threading.Condition = field(default_factory=threading.Condition)

    def wait(self, offset: int, want: int) -> int:
        """Until `want` bytes past `offset` are written, or all are; how many are written."""
        with self.cond:
            while not self.finished and self.error is None and self.size < offset + want:
                self.cond.wait()
            if self.error is not None:
                raise self.error
            return self.size

    def _grew(self, n: int) -> None:
        with self.cond:
            self.size += n
            self.cond.notify_all()


@contextlib.contextmanager
def stream(content: ContentStore, meta: Metadata, diff_id: str, blob: str,
           progress: Callable[[int, int], None]) -> Iterator[Growing]:
    """Compress `blob` in a thread of its own while the caller reads what is written;
    once finished, diff id -> digest is recorded. Leaving the block early stops it."""
    total = os.stat(content.path(blob)).st_size  # before the writer: a missing blob leaves no ingest file
    w = content.writer()
    try:
        g = Growing(os.open(w.path, os.O_RDONLY | os.O_CLOEXEC))
    except BaseException:
        w.abort()
        raise

    def run() -> None:
        try:
            _compress(w, content.path(blob), g, lambda done: progress(done, total))
            digest, _ = w.commit()
            meta.set_compressed(diff_id, digest)
            with g.cond:
                g.digest, g.finished = digest, True
                g.cond.notify_all()
        except BaseException as e:  # noqa: BLE001 - handed to the reader
            w.abort()
            with g.cond:
                g.error = e
                g.cond.notify_all()

    worker = threading.Thread(target=run, name="gzip-layer", daemon=True)
    worker.start()
    try:
        yield g
    finally:
        g.cancelled = True
        worker.join()
        os.close(g.fd)


def _compress(w: Writer, path: str, g: Growing, progress: Callable[[int], None]) -> None:
    w.write(_HEADER)
    g._grew(len(_HEADER))
    crc, size = 0, 0
    for data, out in _deflated(path):
        if g.cancelled:
            raise InvalidArgument("compression stopped: the push ended")
        crc, size = zlib.crc32(data, crc), size + len(data)
        w.write(out)
        g._grew(len(out))
        progress(size)
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    w.write(trailer)
    g._grew(len(trailer))


def _deflated(path: str) -> Iterator[tuple[bytes, bytes]]:
    """(block, its deflate) of each block of the file, in order, compressed on every core
    at once as pigz does: each block primed with the 32 KiB before it (the window a
    single stream would have), ending on a byte boundary (a sync flush), the last one
    final. A few blocks in flight at most: the file is never whole in memory."""
    pending: deque[tuple[bytes, Future[bytes]]] = deque()
    with open(path, "rb") as f:
        tail = b""
        data = f.read(BLOCK)
        while data:
            following = f.read(BLOCK)
            pending.append((data, _pool.submit(_block, data, tail, not following)))
            tail = data[-_WINDOW:]
            data = following
            while len(pending) > 2 * _WORKERS:
                block, job = pending.popleft()
                yield block, job.result()
        if not pending:  # an empty blob: an empty final block
            pending.append((b"", _pool.submit(_block, b"", b"", True)))
    while pending:
        block, job = pending.popleft()
        yield block, job.result()


def _block(data: bytes, primer: bytes, last: bool) -> bytes:
    # incompressible (random data, compressed files): stored as level 6 would end up storing
    # it, without the seconds its match search costs on such bytes
    level = 0 if _incompressible(data) else GZIP_LEVEL
    z = zlib.compressobj(level, zlib.DEFLATED, -15, zlib.DEF_MEM_LEVEL, zlib.Z_DEFAULT_STRATEGY,
                         primer) if primer else zlib.compressobj(level, zlib.DEFLATED, -15)
    return z.compress(data) + z.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def _incompressible(data: bytes) -> bool:
    """Every one of a few samples spread over the block fails to shrink (level 1)."""
    if len(data) < 4 * _SAMPLE:
        return False
    step = len(data) // 4
    return all(len(zlib.compress(data[i:i + _SAMPLE], 1)) > _SAMPLE * 0.97 for i in range(0, 4 * step, step))
