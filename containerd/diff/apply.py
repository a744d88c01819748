"""Applying a layer: the blob (gzip, zstd or plain tar) unpacked into a snapshot's
tree by our own extractor (safetar.py), hashing the uncompressed stream on the way
so that its diff id is checked against the image config without a second read."""

from __future__ import annotations

import hashlib
from typing import IO

from ..errors import InvalidArgument
from .compression import decompressed
from .safetar import Extractor, LayerError


class _Hashing:
    """A reader that hashes what passes through it (tarfile reads the layer through this)."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.hash.update(data)
        return data

    def drain(self) -> None:
        """The tar's end-of-archive padding counts for the diff id too."""
        while self.read(1 << 20):
            pass


def apply_layer(blob_path: str, dest: str, has_parent: bool, allow_devices: bool = True) -> str:
    """Unpack a layer blob into the empty directory `dest`; returns its diff id."""
    with open(blob_path, "rb") as raw:
        try:
            stream = _Hashing(decompressed(raw))
            Extractor(dest, has_parent, allow_devices).run(stream)  # type: ignore[arg-type]
            stream.drain()
        except LayerError:
            raise
        except (OSError, EOFError) as e:  # a corrupt or truncated compressed stream
            raise InvalidArgument(f"unpack layer: {e}") from None
        except Exception as e:  # noqa: BLE001 - zstandard.ZstdError and kin: the layer is bad
            if type(e).__module__.startswith("zstandard"):
                raise InvalidArgument(f"unpack layer: bad zstd stream: {e}") from None
            raise
    return "sha256:" + stream.hash.hexdigest()


__all__ = ["apply_layer", "LayerError"]
