"""Media types of images, and choosing one platform's manifest from an index.

OCI and Docker schema2 name the same four things differently; the code past this
module only asks "is it an index?" and "which layers, which config?".
"""

from __future__ import annotations

import json
import platform as _platform
from dataclasses import dataclass, field

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
CONFIG_TYPES = ("application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json")
LAYER_TYPES = (
    "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
    # non-distributable layers, pulled like the others when the registry has them
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
)
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
         "s390x": "s390x"}


class MediaError(ValueError):
    """A manifest that is not JSON, not an image, or not usable; str() says which."""


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")


def host_platform() -> Platform:
    return Platform("linux", _ARCH.get(_platform.machine(), _platform.machine()))


def parse_platform(text: str) -> Platform:
    """docker's --platform: os[/arch[/variant]], lowercased; arch aliases normalised."""
    if not text:
        return host_platform()
    parts = text.lower().split("/")
    if len(parts) > 3 or not all(parts):
        raise MediaError(f'"{text}": unknown operating system or architecture: invalid argument')
    os_, arch = parts[0], parts[1] if len(parts) > 1 else host_platform().architecture
    arch = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "i386": "386"}.get(arch, arch)
    variant = parts[2] if len(parts) > 2 else ""
    if arch == "arm64" and variant == "v8":
        variant = ""
    return Platform(os_, arch, variant)


def decode(body: bytes, what: str) -> dict:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise MediaError(f"{what}: not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise MediaError(f"{what}: not a JSON object")
    return value


def media_type_of(doc: dict, header: str) -> str:
    """The manifest's own mediaType wins over the Content-Type the registry sent."""
    mt = doc.get("mediaType") or header
    if not mt and "manifests" in doc:
        return OCI_INDEX
    if not mt and "layers" in doc:
        return OCI_MANIFEST
    return str(mt)


def descriptor(d: object, what: str) -> Descriptor:
    if not isinstance(d, dict) or not isinstance(d.get("digest"), str) or not isinstance(d.get("size", 0), int):
        raise MediaError(f"{what}: bad descriptor {d!r}")
    return Descriptor(str(d.get("mediaType", "")), d["digest"], int(d.get("size", 0)), d.get("platform") or {})


def select(index: dict, want: Platform) -> Descriptor:
    """The manifest of an index for `want`: os and architecture equal, the variant too
    when both name one (linux/arm/v7 takes linux/arm when nothing else is offered)."""
    manifests = [descriptor(m, "index") for m in index.get("manifests") or []]
    exact, loose = [], []
    for m in manifests:
        p = m.platform
        if m.media_type not in (OCI_MANIFEST, DOCKER_MANIFEST, ""):
            continue
        if p.get("os") != want.os or p.get("architecture") != want.architecture:
            continue
        (exact if p.get("variant", "") == want.variant else loose).append(m)
    if exact:
        return exact[0]
    for m in loose:
        if not want.variant or not m.platform.get("variant"):
            return m
    raise MediaError(f"no matching manifest for {want} in the manifest list entries")


@dataclass
class ImageManifest:
    config: Descriptor
    layers: list[Descriptor]


def image_manifest(doc: dict) -> ImageManifest:
    config = descriptor(doc.get("config"), "manifest config")
    if config.media_type and config.media_type not in CONFIG_TYPES:
        raise MediaError(f"unsupported media type {config.media_type}")
    layers = [descriptor(layer, "manifest layer") for layer in doc.get("layers") or []]
    for layer in layers:
        if layer.media_type and layer.media_type not in LAYER_TYPES:
            raise MediaError(f"unsupported media type {layer.media_type}")
    return ImageManifest(config, layers)
