"""`GET /containers/json`'s filters as dockerd's (moby daemon/list.go): id, name, label,
status, exited, ancestor, before, since, volume, network, health, publish, expose; bad
keys and values refused with its words.

publish and expose take `PORT[/PROTO]` or `START-END[/PROTO]` (tcp when no protocol):
publish matches a list entry's PublicPort (the host port), expose its PrivatePort."""

from __future__ import annotations

import re
from typing import Any

from ..http.errors import bad_request
from . import views
from .store import Container, Store

KEYS = ("ancestor", "before", "exited", "expose", "health", "id", "label", "name", "network", "publish", "since",
        "status", "volume")
_STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
_HEALTH = ("starting", "healthy", "unhealthy", "none")


def check(filters: dict[str, list[str]], store: Store) -> dict[str, Any]:
    """Refuse what dockerd refuses; the containers `before`/`since` name, looked up now."""
    for key in filters:
        if key not in KEYS:
            raise bad_request(f"invalid filter '{key}'")
    for value in filters.get("status", []):
        if value not in _STATUSES:
            raise bad_request(f"invalid filter 'status={value}'")
    for value in filters.get("health", []):
        if value not in _HEALTH:
            raise bad_request(f"Unrecognised filter value for health: {value}")
    for value in filters.get("exited", []):
        if not value.lstrip("-").isdigit():
            raise bad_request(f'strconv.Atoi: parsing "{value}": invalid syntax')
    for key in ("publish", "expose"):
        for value in filters.get(key, []):
            port_range(key, value)
    return {k: store.get(filters[k][-1]) for k in ("before", "since") if filters.get(k)}


def _port_number(text: str) -> int:
    """Go's strconv.ParseUint(text, 10, 16), with its words."""
    if not text.isascii() or not text.isdigit():
        raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    if int(text) > 65535:
        raise ValueError(f'strconv.ParseUint: parsing "{text}": value out of range')
    return int(text)


def port_range(key: str, value: str) -> tuple[int, int, str]:
    """The ports a publish or expose value names, (first, last, proto) (moby's portOp
    with go-connections' SplitProtoPort and ParsePortRange)."""
    if ":" in value:
        raise bad_request(f"filter for '{key}' should not contain ':': {value}")
    port, _, proto = value.partition("/")
    proto = proto.split("/")[0] or "tcp"
    try:
        if not port:
            raise ValueError("empty string specified for ports")
        if "-" not in port:
            start = end = _port_number(port)
        else:
            parts = port.split("-")
            start, end = _port_number(parts[0]), _port_number(parts[1])
            if end < start:
                raise ValueError(f"invalid range specified for port: {port}")
    except ValueError as e:
        raise bad_request(f"error while looking up for {key} {value}: {e}") from None
    return start, end, proto


def _in(ranges: list[tuple[int, int, str]], port: int, proto: str) -> bool:
    return any(lo <= port <= hi and proto == p for lo, hi, p in ranges)


def _ports_match(filters: dict[str, list[str]], ports: list[dict[str, Any]]) -> bool:
    """dockerd: kept when one entry's host port is published as asked, or its container
    port is exposed as asked."""
    publish = [port_range("publish", v) for v in filters.get("publish", [])]
    expose = [port_range("expose", v) for v in filters.get("expose", [])]
    if not publish and not expose:
        return True
    return any(_in(publish, p.get("PublicPort", 0), p.get("Type", ""))
               or _in(expose, p.get("PrivatePort", 0), p.get("Type", "")) for p in ports)


def _health(c: Container) -> str:
    if not c.health or not (c.config.get("Healthcheck") or {}).get("Test") \
            or (c.config["Healthcheck"]["Test"][:1] == ["NONE"]):
        return "none"
    return c.health.get("Status") or "none"


def _volumes(c: Container) -> set[str]:
    """Names and paths a container mounts (Binds' SOURCE:TARGET, Mounts' Source and Target)."""
    out: set[str] = set()
    for bind in c.host_config.get("Binds") or []:
        parts = str(bind).split(":")
        out.update(parts[:2])
    for m in c.host_config.get("Mounts") or []:
        if isinstance(m, dict):
            out.update(str(m.get(k)) for k in ("Source", "Target") if m.get(k))
    return out


def matches(c: Container, filters: dict[str, list[str]], refs: dict[str, Container],
            networks: set[str] | None = None, ports: list[dict[str, Any]] | None = None) -> bool:
    """`networks`: the names and ids of the networks the container is on, `ports`: its
    list entry's Ports (the caller knows both)."""
    for key, values in filters.items():
        if not values:
            continue
        if key == "status" and views.status_name(c) not in values:
            return False
        if key == "id" and not any(c.id.startswith(v) for v in values):
            return False
        if key == "name" and not any(re.search(v, c.name) for v in values):
            return False
        if key == "exited" and not (c.state.status == "exited" and str(c.state.exit_code) in values):
            return False
        if key == "label":
            labels = c.config.get("Labels") or {}
            for v in values:
                k, eq, val = v.partition("=")
                if k not in labels or (eq and labels[k] != val):
                    return False
        if key == "ancestor" and not any(v in (c.image, c.config.get("Image")) or c.image.startswith(f"sha256:{v}")
                                         for v in values):
            return False
        if key == "health" and _health(c) not in values:
            return False
        if key == "volume" and not (_volumes(c) & set(values)):
            return False
        if key == "network" and not ((networks or {c.host_config.get("NetworkMode") or ""}) & set(values)):
            return False
    if not _ports_match(filters, ports or []):
        return False
    if "before" in refs and not c.created < refs["before"].created:
        return False
    return "since" not in refs or c.created > refs["since"].created
