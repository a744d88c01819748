"""Query parameters the way docker reads them (its BoolValue, ints, JSON filters)."""

from __future__ import annotations

import json
from typing import Mapping

from .errors import bad_request


def qbool(q: Mapping[str, str], name: str, default: bool = False) -> bool:
    """docker's BoolValue: absent -> default; "", 0, no, false, none -> False; else True."""
    if name not in q:
        return default
    return q[name].strip().lower() not in ("", "0", "no", "false", "none")


def qint(q: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    value = q.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"invalid value for {name}: {value!r}: not an integer")


def qfilters(q: Mapping[str, str]) -> dict[str, list[str]]:
    """filters={"status":["running"],...}; also the old {"status":{"running":true}} form."""
    raw = q.get("filters")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise bad_request(f"invalid filter: {e}")
    if not isinstance(value, dict):
        raise bad_request("invalid filter: not a JSON object")
    out: dict[str, list[str]] = {}
    for key, vals in value.items():
        if isinstance(vals, dict):
            out[key] = [k for k, v in vals.items() if v]
        elif isinstance(vals, list) and all(isinstance(v, str) for v in vals):
            out[key] = vals
        else:
            raise bad_request(f"invalid filter {key!r}: values must be a list of strings")
    return out
