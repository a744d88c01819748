"""A layer blob as the tar stream inside it: gzip, zstd or plain, told by its magic bytes.

The media type says the same, but the bytes decide: an importer's tarball has no
media type, and a registry may label a gzip layer as plain.
"""

from __future__ import annotations

import gzip
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def kind(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "tar"


def decompressed(raw: IO[bytes]) -> IO[bytes]:
    """A reader of the uncompressed bytes of the seekable blob `raw`."""
    head = raw.read(4)
    raw.seek(0)
    k = kind(head)
    if k == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if k == "zstd":
        import zstandard  # only zstd layers pay for it

        return zstandard.ZstdDecompressor().stream_reader(raw, read_size=1 << 20, read_across_frames=True)
    return raw
