"""`GET /containers/json`'s filters as dockerd's (moby daemon/list.go): id, name, label,
status, exited, ancestor, before, since, volume, network, health; bad keys and values
refused with its words."""

from __future__ import annotations

import re
from typing import Any

from ..http.errors import bad_request
from . import views
from .store import Container, Store

KEYS = ("ancestor", "before", "exited", "health", "id", "label", "name", "network", "since", "status", "volume")
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
    return {k: store.get(filters[k][-1]) for k in ("before", "since") if filters.get(k)}


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
            networks: set[str] | None = None) -> bool:
    """`networks`: the names and ids of the networks the container is on (the caller knows)."""
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
    if "before" in refs and not c.created < refs["before"].created:
        return False
    return "since" not in refs or c.created > refs["since"].created
