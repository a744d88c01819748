"""Query parameters the way docker reads them (its BoolValue, ints, JSON filters).

Routes declare their parameters with FastAPI's Query(...) so that /openapi.json lists
them; the types here keep docker's semantics under those declarations: `Bool` is
docker's BoolValue (the CLI sends `all=1`), `Int` takes an empty value as absent.
A value they refuse is a RequestValidationError, which app.py answers with a 400.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Mapping

from pydantic import BeforeValidator, WithJsonSchema

from .errors import bad_request

_FALSE = ("", "0", "no", "false", "none")
_INT = re.compile(r"[+-]?[0-9]+")  # strconv.Atoi's syntax, not Python's int()


def docker_bool(value: Any) -> bool:
    """docker's BoolValue of one value: "", 0, no, false, none -> False; anything else -> True."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in _FALSE


def _docker_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INT.fullmatch(value):
        return int(value)
    raise ValueError("not an integer")


# The schema says boolean (docker's swagger does too); any string is accepted, as docker does.
Bool = Annotated[bool, BeforeValidator(docker_bool)]
Int = Annotated[int | None, BeforeValidator(_docker_int), WithJsonSchema({"type": "integer"})]


def qbool(q: Mapping[str, str], name: str, default: bool = False) -> bool:
    """docker's BoolValue: absent -> default; "", 0, no, false, none -> False; else True."""
    if name not in q:
        return default
    return docker_bool(q[name])


def parse_filters(raw: str | None) -> dict[str, list[str]]:
    """filters={"status":["running"],...}; also the old {"status":{"running":true}} form."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise bad_request(f"invalid filter: {e}") from None
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
