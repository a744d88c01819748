"""Image references, by docker's rules (distribution/reference): the one parser that
the client, berthd and berth-containerd share.

`busybox` is `docker.io/library/busybox:latest`; a first path component is a registry
only if it has a `.` or a `:` or is `localhost`; a tag follows the last `/`; a digest
follows `@`. Images are named and shown in the familiar form (`busybox:latest`,
`localhost:5000/app:1.0`), as docker shows RepoTags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_DOMAIN = "docker.io"
DEFAULT_TAG = "latest"
_LEGACY_DOMAIN = "index.docker.io"
_OFFICIAL = "library/"
_NAME_MAX = 255

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$")
_ANCHORED_ID = re.compile(r"^[a-f0-9]{64}$")


class ReferenceError(ValueError):
    """An unparsable reference; str() is docker's message."""


@dataclass(frozen=True)
class Reference:
    domain: str     # "docker.io", "localhost:5000"
    path: str       # "library/busybox", "app"
    tag: str = ""   # "" when none was given
    digest: str = ""

    @property
    def name(self) -> str:
        """The fully qualified repository: docker.io/library/busybox."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The repository as docker prints it: busybox, user/app, localhost:5000/app."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        return self.path[len(_OFFICIAL):] if self.path.startswith(_OFFICIAL) else self.path

    def with_default_tag(self) -> Reference:
        """docker's TagNameOnly: `latest` when there is neither a tag nor a digest."""
        if self.tag or self.digest:
            return self
        return Reference(self.domain, self.path, DEFAULT_TAG)

    def familiar(self) -> str:
        """busybox:latest, localhost:5000/app@sha256:..."""
        return self.familiar_name + _suffix(self)

    def __str__(self) -> str:
        return self.name + _suffix(self)


def _suffix(ref: Reference) -> str:
    return (f":{ref.tag}" if ref.tag else "") + (f"@{ref.digest}" if ref.digest else "")


def parse(text: str) -> Reference:
    """docker's ParseNormalizedNamed: a reference with its registry and path filled in."""
    if not text:
        raise ReferenceError("invalid reference format")
    if _ANCHORED_ID.match(text):
        raise ReferenceError(f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    m = _REFERENCE.match(text)
    if m is None:
        lowered = _REFERENCE.match(text.lower())
        if lowered is not None:
            _, path = _split_domain(text[:lowered.end("name")])
            raise ReferenceError(f"invalid reference format: repository name ({path}) must be lowercase")
        raise ReferenceError("invalid reference format")
    name = m.group("name")
    if len(name) > _NAME_MAX:
        raise ReferenceError(f"invalid reference format: repository name must not be more than {_NAME_MAX} characters")
    domain, path = _split_domain(name)
    return Reference(domain, path, m.group("tag") or "", m.group("digest") or "")


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"):
        domain, path = DEFAULT_DOMAIN, name
    else:
        domain, path = first, rest
    if domain == _LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = _OFFICIAL + path
    return domain, path


def normalize(text: str) -> str:
    """The familiar name with the default tag: busybox → busybox:latest (docker's
    wording in "No such image" and "Unable to find image"). Raises ReferenceError."""
    return parse(text).with_default_tag().familiar()


def split_tag(text: str) -> tuple[str, str]:
    """("repo", "tag") of `repo[:tag]` without validating (the daemon validates): a tag
    is a `:` after the last `/`, so a registry's port is not one."""
    name, colon, tag = text.rpartition(":")
    if not colon or "/" in tag:
        return text, ""
    return name, tag
