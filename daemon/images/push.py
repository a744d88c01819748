"""POST /images/{name}/push: docker push, streamed as docker's JSON progress.

As for a pull, berth-containerd does the work and berthd translates: the name and
`tag` query into one reference (no tag: every local tag of the repository), the
X-Registry-Auth header into credentials, and each status into docker's message. The
answer is always a 200 stream, as dockerd's is: its first line ("The push refers to
repository") is written before anything can fail, so failures are its last line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from fastapi.responses import StreamingResponse

from berth.common import reference

from ..containers.service import Engine
from ..http.errors import bad_request
from ..libcontainerd import ContainerdError, PushProgress
from . import events as image_events
from . import progress
from .pull import registry_auth


def push_reference(name: str, tag: str) -> str:
    """NAME[:TAG] from the path and the query; the query's tag wins (dockerd's rule)."""
    try:
        ref = reference.parse(name)
        if tag:
            ref = reference.parse(f"{ref.name}:{tag}")
    except reference.ReferenceError as e:
        raise bad_request(str(e)) from None
    if ref.digest:
        raise bad_request(f"cannot push a digest reference: {name}")
    return str(ref)


def message(ev: PushProgress) -> list[dict[str, Any]]:
    if ev.tag:
        return [{"status": ev.status},
                {"progressDetail": {}, "aux": {"Tag": ev.tag, "Digest": ev.digest, "Size": ev.size}}]
    if not ev.layer:
        return [{"status": ev.status}]
    msg: dict[str, Any] = {"status": ev.status, "progressDetail": {}}
    if ev.status == "Pushing" and ev.total:
        msg["progressDetail"] = {"current": ev.current, "total": ev.total}
        msg["progress"] = progress.progress_bar(ev.current, ev.total)
    msg["id"] = ev.id
    return [msg]


async def push(engine: Engine, name: str, query: Mapping[str, str], headers: Mapping[str, str]) -> StreamingResponse:
    ref = push_reference(name, query.get("tag", ""))
    auth = registry_auth(headers.get("x-registry-auth", ""))
    stream = engine.ctrd.push(ref, auth, list(engine.config.insecure_registries))

    async def body() -> AsyncIterator[bytes]:
        try:
            async for ev in stream:
                if ev.tag:  # one tag pushed
                    image_events.pushed(engine.events, f"{reference.parse(ref).name}:{ev.tag}")
                for msg in message(ev):
                    yield progress.line(msg)
        except ContainerdError as e:
            yield progress.error_line(e.message)
        finally:
            await stream.aclose()

    return StreamingResponse(body(), media_type="application/json")
