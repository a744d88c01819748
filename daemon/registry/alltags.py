"""POST /images/create?fromImage=NAME with no tag (docker pull --all-tags): every tag
the registry lists, pulled one after the other in one stream, as dockerd's
pullV2Repository does. Each tag's pull shows its own lines ("Pulling from", the
layers, "Digest:"); its "Status:" line is left out, and one ends the stream for the
repository: "Downloaded newer image for NAME" if any tag brought something new, else
"Image is up to date for NAME". An unknown repository fails before the stream begins
(docker's "repository NAME not found: name unknown: ...")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from fastapi.responses import StreamingResponse

from berth.common import reference

from ..containers.service import Engine
from ..images import events as image_events
from ..images import progress
from ..images.pull import registry_auth
from ..libcontainerd import ContainerdError


def wants_all_tags(from_image: str, tag: str) -> bool:
    """dockerd pulls every tag when neither `tag` nor fromImage names a tag or digest."""
    if tag or not from_image:
        return False
    try:
        ref = reference.parse(from_image)
    except reference.ReferenceError:
        return False  # the ordinary path answers with the reference's error
    return not ref.tag and not ref.digest


async def pull_all(engine: Engine, query: Mapping[str, str], headers: Mapping[str, str]) -> StreamingResponse:
    ref = reference.parse(query.get("fromImage", ""))
    auth = registry_auth(headers.get("x-registry-auth", ""))
    insecure, mirrors = list(engine.config.insecure_registries), list(engine.config.registry_mirrors)
    tags = await engine.ctrd.list_tags(str(ref), auth, insecure, mirrors)  # ContainerdError: an HTTP error
    platform = query.get("platform", "")

    async def body() -> AsyncIterator[bytes]:
        updated = False
        for tag in tags:
            stream = engine.ctrd.pull(str(reference.Reference(ref.domain, ref.path, tag)), platform, auth,
                                      insecure, mirrors)
            try:
                async for item in stream:
                    if item.image is not None:
                        updated = updated or item.updated
                        image_events.pulled(engine.events, f"{ref.name}:{tag}")
                    elif not item.status.startswith("Status: "):
                        yield progress.line(progress.message(item))
            except ContainerdError as e:
                yield progress.error_line(e.message)
                return
            finally:
                await stream.aclose()
        status = "Downloaded newer image" if updated else "Image is up to date"
        yield progress.line({"status": f"Status: {status} for {ref.familiar_name}"})

    return StreamingResponse(body(), media_type="application/json")
