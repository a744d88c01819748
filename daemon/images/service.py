"""Images over berth-containerd: resolving a reference, importing a tarball, listing."""

from __future__ import annotations

import re
from typing import Any, AsyncIterator

from berth.common import reference

from ..http.errors import no_such_image
from ..libcontainerd import Containerd, ContainerdError, Image

_ID = re.compile(r"(sha256:)?[0-9a-f]{4,64}")


async def resolve(ctrd: Containerd, ref: str, layer_sizes: bool = False) -> Image:
    """An image by id, short id or name (docker's order: an id-looking ref is tried as one first)."""
    candidates = [ref] if _ID.fullmatch(ref) else []
    try:
        candidates.append(reference.normalize(ref))
    except reference.ReferenceError:
        if not candidates:
            raise no_such_image(ref) from None
    for cand in candidates:
        try:
            return await ctrd.get_image(cand, layer_sizes)
        except ContainerdError as e:
            if not e.not_found:
                raise
    raise no_such_image(ref)


async def import_tar(ctrd: Containerd, name: str, config: dict[str, Any], data: AsyncIterator[bytes]) -> Image:
    return await ctrd.import_image(name, config, data)


async def list_images(ctrd: Containerd) -> list[Image]:
    return await ctrd.list_images()
