"""What a reference is on its registry, without pulling it: docker's distribution
inspect (GET /distribution/{name}/json) and the tags of a repository (pull --all-tags).

As dockerd's getDistributionInfo: the descriptor is the manifest's (its media type as
the manifest declares it, its digest, its size); the platforms are the entries of an
index or manifest list, or, for a Docker schema2 manifest, the platform its config
names; an OCI image manifest lists none (dockerd leaves them null). Mirrors come first
for docker.io, as for a pull.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from berth.common import reference

from ..errors import BerthError, Internal, InvalidArgument, NotFound, Unauthenticated
from ..remotes import Credentials, Hosts, MediaError, RegistryError, Repository, TransportError, media, mirrors
from .pull_errors import translate


@dataclass
class PlatformInfo:
    architecture: str = ""
    os: str = ""
    os_version: str = ""
    os_features: list[str] = field(default_factory=list)
    variant: str = ""


@dataclass
class Resolved:
    media_type: str
    digest: str
    size: int
    platforms: list[PlatformInfo]


def _parse(text: str) -> reference.Reference:
    try:
        return reference.parse(text).with_default_tag()
    except reference.ReferenceError as e:
        raise InvalidArgument(str(e)) from None


def resolve(text: str, creds: Credentials, hosts: Hosts) -> Resolved:
    ref = _parse(text)
    try:
        _, found = mirrors.first(hosts, ref, creds, lambda repo: _inspect(repo, ref.digest or ref.tag))
        return found
    except BerthError:
        raise
    except RegistryError as e:
        if e.status == 404:
            raise NotFound(str(e)) from None
        if e.status == 401:
            raise Unauthenticated(str(e)) from None
        raise Internal(str(e)) from None
    except (TransportError, MediaError) as e:
        raise Internal(str(e)) from None


def tags(text: str, creds: Credentials, hosts: Hosts) -> list[str]:
    """The repository's tags as the registry lists them; the reference's tag, if any, is ignored."""
    ref = _parse(text)
    try:
        _, found = mirrors.first(hosts, ref, creds, lambda repo: repo.tags())
        return found
    except Exception as e:  # noqa: BLE001 - worded as a pull's errors are (pull -a shows them)
        raise translate(e, ref) from None


def _inspect(repo: Repository, ident: str) -> Resolved:
    m = repo.manifest(ident)
    doc = media.decode(m.body, "manifest")
    media_type = media.media_type_of(doc, m.media_type)
    platforms: list[PlatformInfo] = []
    if media_type in media.INDEX_TYPES:
        platforms = [_platform(entry.get("platform") or {}) for entry in doc.get("manifests") or []
                     if isinstance(entry, dict)]
    elif media_type == media.DOCKER_MANIFEST:
        config = media.descriptor(doc.get("config"), "manifest config")
        try:
            p = _platform(media.decode(repo.blob_bytes(config.digest), "image config"))
        except (RegistryError, TransportError, MediaError):
            p = PlatformInfo()  # dockerd too answers without the platform when the config cannot be read
        if p.os or p.architecture:
            platforms = [p]
    return Resolved(media_type, m.digest, len(m.body), platforms)


def _platform(p: dict) -> PlatformInfo:
    features = p.get("os.features") or []
    return PlatformInfo(str(p.get("architecture") or ""), str(p.get("os") or ""), str(p.get("os.version") or ""),
                        [str(f) for f in features] if isinstance(features, list) else [],
                        str(p.get("variant") or ""))
