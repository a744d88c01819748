"""docker's event filters (moby daemon/events/filter.go): type, container, image, event,
label, plus scope; each key's values are alternatives, the keys all must match."""

from __future__ import annotations

from typing import Any

from ..http.errors import bad_request

KEYS = ("type", "container", "image", "event", "label", "scope", "daemon", "network", "volume", "plugin",
        "node", "service", "secret", "config")


def check(filters: dict[str, list[str]]) -> None:
    for key in filters:
        if key not in KEYS:
            raise bad_request(f"invalid filter '{key}'")


def _fuzzy(values: list[str], *candidates: str) -> bool:
    """moby's FuzzyMatch: equal, or the value is a prefix (a short id, a name's start)."""
    return any(c and (c == v or c.startswith(v)) for v in values for c in candidates)


def _image_names(name: str) -> set[str]:
    """An image attribute as it matches: itself and without its tag (busybox:latest ~ busybox)."""
    out = {name}
    if ":" in name.rsplit("/", 1)[-1]:
        out.add(name.rsplit(":", 1)[0])
    else:
        out.add(name + ":latest")
    return out


def matches(msg: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    kind, actor = msg["Type"], msg["Actor"]
    attrs: dict[str, str] = actor.get("Attributes") or {}
    for key, values in filters.items():
        if not values:
            continue
        if key == "type" and kind not in values:
            return False
        if key == "event" and msg["Action"] not in values and msg["Action"].split(":")[0] not in values:
            return False
        if key == "scope" and msg.get("scope") not in values:
            return False
        if key == "container" and not (kind == "container" and _fuzzy(values, actor["ID"], attrs.get("name", ""))):
            return False
        if key == "image":
            names = _image_names(attrs.get("image", "")) if kind == "container" else \
                {actor["ID"], *_image_names(attrs.get("name", ""))}
            if not any(v in names or _image_names(v) & names for v in values):
                return False
        if key == "label":
            def has(v: str) -> bool:
                k, eq, val = v.partition("=")
                return k in attrs and (not eq or attrs[k] == val)

            if not any(has(v) for v in values):
                return False
        if key in ("network", "volume", "daemon", "plugin", "node", "service", "secret", "config") \
                and kind != key:
            return False
    return True
