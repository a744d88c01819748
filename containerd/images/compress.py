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

import os
import struct
import threading
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from ..content import ContentStore
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


def gzipped(content: ContentStore, meta: Metadata, diff_id: str, blob: str, media_type: str) -> Descriptor:
    """The gzip blob of the plain layer `blob` (diff id `diff_id`): the recorded one, else made now."""
    with _lock(diff_id):  # two pushes of one layer at once compress it once
        known = meta.compressed(diff_id)
        if known and content.exists(known):
            return Descriptor(media_type, known, os.stat(content.path(known)).st_size)
        digest, size = _compress(content, blob)
        meta.set_compressed(diff_id, digest)
        return Descriptor(media_type, digest, size)


def _compress(content: ContentStore, blob: str) -> tuple[str, int]:
    w = content.writer()
    try:
        w.write(_HEADER)
        crc, size = 0, 0
        for data, out in _deflated(content.path(blob)):
            crc, size = zlib.crc32(data, crc), size + len(data)
            w.write(out)
        w.write(struct.pack("<II", crc, size & 0xFFFFFFFF))
    except BaseException:
        w.abort()
        raise
    return w.commit()


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


def _lock(diff_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(diff_id, threading.Lock())
