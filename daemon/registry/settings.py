"""--registry-mirror and --insecure-registry, checked and normalised as dockerd's
registry.ServiceOptions are, and shown in GET /info's RegistryConfig."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

INDEX_SERVER = "https://index.docker.io/v1/"  # docker's IndexServerAddress
_HOST = re.compile(r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*"
                   r"[a-zA-Z0-9]))*(?::[0-9]+)?$")


def mirror(url: str) -> str:
    """dockerd's ValidateMirror: http(s)://HOST[:PORT][/], normalised with one trailing slash."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValueError(f"invalid mirror: {url!r} is not a valid URI") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f'invalid mirror: unsupported scheme "{parts.scheme}" in "{url}"')
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f'invalid mirror: path, query, or fragment at end of the URI "{url}"')
    if parts.username is not None or parts.password is not None:
        raise ValueError(f'invalid mirror: username/password not allowed in URI "{url}"')
    return url.rstrip("/") + "/"


def mirrors(urls: list[str]) -> list[str]:
    out: list[str] = []
    for url in urls:
        m = mirror(url)
        if m not in out:
            out.append(m)
    return out


def insecure_registry(value: str) -> str:
    """dockerd's LoadInsecureRegistries for one entry: a CIDR or a host[:port] (a scheme is dropped)."""
    for scheme in ("http://", "https://"):
        if value.lower().startswith(scheme):
            value = value[len(scheme):]
    if "://" in value:
        raise ValueError(f"insecure registry {value} should not contain '://'")
    if value.startswith("-") or value.endswith("-"):
        raise ValueError(f"invalid index name ({value}). Cannot begin or end with a hyphen")
    if "/" in value:
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"insecure registry {value} is not valid: invalid host {value!r}") from None
    host = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    if not _HOST.match(value) and not _is_ip(host.strip("[]")):
        raise ValueError(f'insecure registry {value} is not valid: invalid host "{host}"')
    return value


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def registry_config(insecure: list[str], mirror_urls: list[str]) -> dict:
    """GET /info's RegistryConfig, as dockerd builds it (127.0.0.0/8 is always insecure)."""
    cidrs: list[str] = []
    index = {"docker.io": {"Name": "docker.io", "Mirrors": list(mirror_urls), "Secure": True, "Official": True}}
    for item in [*insecure, "127.0.0.0/8"]:
        if "/" in item:
            if item not in cidrs:
                cidrs.append(item)
        else:
            index[item] = {"Name": item, "Mirrors": [], "Secure": False, "Official": False}
    return {"AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": cidrs, "IndexConfigs": index, "Mirrors": list(mirror_urls)}
