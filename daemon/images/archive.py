"""docker save and load over berth-containerd: the archive (a docker-archive and an
OCI layout at once) is made and read there; berthd passes the bytes through."""

from __future__ import annotations

import json
from typing import AsyncIterator

from ..containers.service import Engine
from ..http.errors import bad_request, no_such_image
from ..libcontainerd import ContainerdError
from . import events as image_events
from .service import resolve


async def save(engine: Engine, names: list[str]) -> AsyncIterator[bytes]:
    """The tar's pieces; an unknown image is docker's 404 before any byte is sent."""
    if not names:
        raise bad_request("no images to save: give at least one name")
    try:
        pieces = await engine.ctrd.save(names)
    except ContainerdError as e:
        if e.not_found:
            raise no_such_image(next((n for n in names if n in e.message), names[0])) from None
        raise
    for image_id in dict.fromkeys([(await resolve(engine.ctrd, n)).id for n in names]):
        image_events.by_id(engine.events, "save", image_id)
    return pieces


async def load(engine: Engine, data: AsyncIterator[bytes]) -> bytes:
    """docker's JSON stream for the answer: one {"stream": "Loaded image: ...\\n"} per line."""
    messages, ids = await engine.ctrd.load(data)
    for image_id in ids:
        image_events.by_id(engine.events, "load", image_id)
    return "".join(json.dumps({"stream": m + "\n"}, separators=(",", ":")) + "\r\n" for m in messages).encode()
