"""GET /distribution/{name}/json: docker's DistributionInspect of a remote image (its
descriptor and platforms), resolved by berth-containerd on the registry, mirrors first
for docker.io, with the caller's X-Registry-Auth."""

from __future__ import annotations

from collections.abc import Mapping

from berth.common import reference

from ..containers.service import Engine
from ..http.errors import ApiError, bad_request
from ..images.pull import registry_auth
from ..libcontainerd.registry import Platform


def _name(text: str) -> str:
    """dockerd's ParseAnyReference: a name (default tag latest), or a refused id."""
    if _full_id(text):
        raise ApiError(500, "no manifest found for full image ID")  # dockerd's plain error: a 500
    try:
        return str(reference.parse(text).with_default_tag())
    except reference.ReferenceError as e:
        raise bad_request(str(e)) from None


def _full_id(text: str) -> bool:
    hexpart = text.removeprefix("sha256:")
    return len(hexpart) == 64 and all(c in "0123456789abcdef" for c in hexpart)


def _platform(p: Platform) -> dict:
    """ocispec.Platform's JSON: architecture and os always, the rest when set."""
    out: dict = {"architecture": p.architecture, "os": p.os}
    if p.os_version:
        out["os.version"] = p.os_version
    if p.os_features:
        out["os.features"] = p.os_features
    if p.variant:
        out["variant"] = p.variant
    return out


async def inspect(engine: Engine, name: str, headers: Mapping[str, str]) -> dict:
    ref = _name(name)
    cfg = engine.config
    found = await engine.ctrd.resolve(ref, registry_auth(headers.get("x-registry-auth", "")),
                                      list(cfg.insecure_registries), list(cfg.registry_mirrors))
    return {"Descriptor": {"mediaType": found.media_type, "digest": found.digest, "size": found.size},
            "Platforms": [_platform(p) for p in found.platforms] or None}
