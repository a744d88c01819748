"""The gzip push makes of a plain layer (containerd/images/compress.py): blocks compressed
on every core must still be one gzip member that gzip(1) and Python read back to the
very bytes, the same every time, and as small as zlib's level 6 makes it."""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import tempfile
import zlib
from collections.abc import Iterator

import pytest

from berth.containerd.content import ContentStore
from berth.containerd.images import compress
from berth.containerd.metadata import Metadata
from berth.containerd.remotes.media import Descriptor

GZ = "application/vnd.oci.image.layer.v1.tar+gzip"


def _gzipped(content: ContentStore, meta: Metadata, blob: str) -> Descriptor:
    """As push gets a plain layer's gzip (its diff id is its digest here): the recorded
    one, else one made now, read to its end."""
    found = compress.known(content, meta, blob, GZ)
    if found:
        return found
    with compress.stream(content, meta, blob, blob, lambda *_: None) as g:
        g.wait(0, 1 << 62)
    return Descriptor(GZ, g.digest, g.size)


@pytest.fixture
def stores() -> Iterator[tuple[ContentStore, Metadata]]:
    with tempfile.TemporaryDirectory(prefix="berth-compress-") as root:
        meta = Metadata(os.path.join(root, "metadata.db"))
        yield ContentStore(os.path.join(root, "content")), meta
        meta.close()


def _text(n: int) -> bytes:
    return b"".join(b"line %d of a layer, %d\n" % (i, i * 7919 % 100003) for i in range(n))


CASES = {
    "empty": b"",
    "small": b"hello\n",
    "one block exactly": _text(200_000)[: compress.BLOCK],
    "mixed": _text(150_000) + os.urandom(3 * compress.BLOCK + 12345) + _text(90_000) + b"\0" * 70_000,
}


@pytest.mark.parametrize("name", list(CASES))
def test_gzip_reads_back_to_the_layer(stores, name):
    content, meta = stores
    data = CASES[name]
    blob, _ = content.put(data)
    desc = _gzipped(content, meta, blob)
    gz = content.read(desc.digest)
    assert desc.size == len(gz) and desc.media_type == GZ
    assert gz[:4] == b"\x1f\x8b\x08\x00" and gz[4:8] == b"\0\0\0\0"  # gzip, deflate, no time
    assert gzip.decompress(gz) == data
    r = subprocess.run(["gzip", "-dc"], input=gz, capture_output=True, check=True)  # one member, CRC and size right
    assert hashlib.sha256(r.stdout).hexdigest() == blob[7:]
    assert meta.compressed(blob) == desc.digest
    # made again from nothing: the very same blob (the next push's digest is this one)
    content.delete(desc.digest)
    assert _gzipped(content, meta, blob).digest == desc.digest
    # as small as one zlib stream at level 6, give or take the blocks' seams
    assert len(gz) <= len(zlib.compress(data, 6)) * 1.01 + 64


def test_the_recorded_gzip_is_reused(stores):
    content, meta = stores
    blob, _ = content.put(_text(50_000))
    first = _gzipped(content, meta, blob)
    os.utime(content.path(first.digest), (1, 1))
    assert _gzipped(content, meta, blob) == first
    assert os.stat(content.path(first.digest)).st_mtime == 1  # not written again
