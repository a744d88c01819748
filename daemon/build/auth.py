"""X-Registry-Config on POST /build: the credentials for the pulls a build makes (FROM,
COPY --from=image). The docker CLI sends every login of its config.json, as base64url
JSON of {server address: AuthConfig}; the one for an image's registry is found as
dockerd finds it: the key as it is, or its host name (scheme and path dropped), with
docker.io's logins under index.docker.io."""

from __future__ import annotations

from berth.common import reference

from ..images.pull import auth_config, decode_header
from ..libcontainerd import RegistryAuth


def _host(key: str) -> str:
    return key.removeprefix("https://").removeprefix("http://").split("/", 1)[0]


def registry_config(header: str) -> dict[str, RegistryAuth]:
    """The header decoded, keyed by registry host; one that does not decode is no
    credentials at all (as dockerd: the pulls may be anonymous)."""
    value = decode_header(header)
    if not isinstance(value, dict):
        return {}
    return {_host(str(k)): auth_config(v) for k, v in value.items()}


def for_reference(auths: dict[str, RegistryAuth], ref: str) -> RegistryAuth:
    if not auths:
        return RegistryAuth()
    try:
        domain = reference.parse(ref).domain
    except reference.ReferenceError:
        return RegistryAuth()
    return auths.get("index.docker.io" if domain == reference.DEFAULT_DOMAIN else domain, RegistryAuth())
