"""Push's gzip of a plain layer, made once and kept, as dockerd's push does.

The builder stores its layers as plain tars (digest = diff id), as dockerd keeps its
layers uncompressed; a registry, and every engine pulling from it, expects gzip. So the
first push of a plain layer compresses it (streamed from its blob into the content
store, never whole in memory; zlib level 6, Go's gzip.DefaultCompression, gzip header
without a time so that the same layer always gives the same blob) and records diff id
-> gzip digest in the metadata store; later pushes, to any registry, send that blob
again (moby's v2 metadata service keeps the same mapping). The blob lives as long as
an image has the layer (images/remove.py).
"""

from __future__ import annotations

import os
import threading
import zlib

from ..content import ContentStore
from ..metadata import Metadata
from ..remotes.media import Descriptor

GZIP_LEVEL = 6  # gzip.DefaultCompression in Go's compress/gzip
_READ = 1 << 20
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
    # wbits 31: a gzip member; zlib writes its header with mtime 0 and no name
    z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    w = content.writer()
    try:
        with open(content.path(blob), "rb") as f:
            while data := f.read(_READ):
                out = z.compress(data)  # zlib drops the GIL here: layers compress in parallel
                if out:
                    w.write(out)
        w.write(z.flush())
    except BaseException:
        w.abort()
        raise
    return w.commit()


def _lock(diff_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(diff_id, threading.Lock())
