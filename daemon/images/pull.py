"""POST /images/create?fromImage=: docker pull, streamed as docker's JSON progress.

berth-containerd does the pull; this turns the query and the X-Registry-Auth header
into its request, and its statuses into docker's messages. The HTTP status is chosen
once the first status arrives: an unknown image, a refused login or an unreachable
registry fail before it, so they get docker's 404/500 with {"message"}; anything
after it is reported inside the 200 stream as docker's errorDetail.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Mapping

from fastapi.responses import StreamingResponse

from berth.common import reference

from ..containers.service import Engine
from ..http.errors import bad_request
from ..libcontainerd import ContainerdError, PullProgress, RegistryAuth
from . import events as image_events
from . import progress


def pull_reference(from_image: str, tag: str) -> str:
    """dockerd's rule: `tag` is a tag, or a digest when it parses as one; it replaces
    what fromImage had. (No tag at all is every tag: daemon/registry/alltags.py.)"""
    try:
        ref = reference.parse(from_image)
    except reference.ReferenceError as e:
        raise bad_request(str(e)) from None
    if tag:
        if tag.startswith("sha256:"):
            ref = reference.Reference(ref.domain, ref.path, "", tag)
        else:
            ref = reference.Reference(ref.domain, ref.path, tag, "")
    try:
        return str(reference.parse(str(ref)).with_default_tag())  # revalidates the tag or digest
    except reference.ReferenceError as e:
        raise bad_request(str(e)) from None


def registry_auth(header: str) -> RegistryAuth:
    """X-Registry-Auth: base64url JSON of docker's AuthConfig. As in dockerd, a header
    that does not decode is no credentials at all (a pull may be anonymous)."""
    return auth_config(decode_header(header))


def decode_header(header: str) -> object:
    """X-Registry-Auth's or X-Registry-Config's JSON: base64url (docker's), or plain
    base64 (some clients'); None when it is empty or neither."""
    raw = header.strip()
    if not raw:
        return None
    for decode in (base64.urlsafe_b64decode, base64.b64decode):
        try:
            return json.loads(decode(raw + "=" * (-len(raw) % 4)))
        except (binascii.Error, ValueError):
            continue
    return None


def auth_config(cfg: object, strict: bool = False) -> RegistryAuth:
    """One docker AuthConfig (a JSON object) as credentials; anything else is none. Its
    keys in any case, as Go's JSON matches them; `strict` (login's): ValueError for an
    `auth` that is not base64 of USER:PASSWORD, otherwise it is ignored."""
    if not isinstance(cfg, dict):
        return RegistryAuth()
    text = {k.lower(): v for k, v in cfg.items() if isinstance(k, str) and isinstance(v, str)}
    username, password = text.get("username", ""), text.get("password", "")
    if not username and text.get("auth"):
        try:
            username, _, password = base64.b64decode(text["auth"]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            if strict:
                raise ValueError("invalid auth configuration: the auth field is not base64 of USER:PASSWORD") from None
    return RegistryAuth(username=username, password=password, identity_token=text.get("identitytoken", ""),
                        registry_token=text.get("registrytoken", ""))


async def create_from_image(engine: Engine, query: Mapping[str, str], headers: Mapping[str, str]) -> StreamingResponse:
    from ..registry import alltags  # registries: mirrors and --all-tags

    if alltags.wants_all_tags(query.get("fromImage", ""), query.get("tag", "")):
        return await alltags.pull_all(engine, query, headers)
    ref = pull_reference(query.get("fromImage", ""), query.get("tag", ""))
    auth = registry_auth(headers.get("x-registry-auth", ""))
    stream = engine.ctrd.pull(ref, query.get("platform", ""), auth, list(engine.config.insecure_registries),
                              list(engine.config.registry_mirrors))
    first = await stream.__anext__()  # raises ContainerdError: an HTTP error answer

    async def body() -> AsyncIterator[bytes]:
        item: PullProgress | None = first
        try:
            while item is not None:
                if item.image is None:
                    yield progress.line(progress.message(item))
                else:
                    image_events.pulled(engine.events, ref)
                item = await anext(stream, None)
        except ContainerdError as e:
            yield progress.error_line(e.message)
        finally:
            await stream.aclose()

    return StreamingResponse(body(), media_type="application/json")
