"""docker save and load over berth-containerd: the archive (a docker-archive and an
OCI layout at once) is made and read there; berthd passes the bytes through."""

from __future__ import annotations

import json
from typing import AsyncIterator

from ..http.errors import bad_request, no_such_image
from ..libcontainerd import Containerd, ContainerdError


async def save(ctrd: Containerd, names: list[str]) -> AsyncIterator[bytes]:
    """The tar's pieces; an unknown image is docker's 404 before any byte is sent."""
    if not names:
        raise bad_request("no images to save: give at least one name")
    try:
        return await ctrd.save(names)
    except ContainerdError as e:
        if e.not_found:
            raise no_such_image(next((n for n in names if n in e.message), names[0])) from None
        raise


async def load(ctrd: Containerd, data: AsyncIterator[bytes]) -> bytes:
    """docker's JSON stream for the answer: one {"stream": "Loaded image: ...\\n"} per line."""
    messages, _ = await ctrd.load(data)
    return "".join(json.dumps({"stream": m + "\n"}, separators=(",", ":")) + "\r\n" for m in messages).encode()
