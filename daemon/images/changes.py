"""`docker import`: the name an import gets, and `--change` Dockerfile instructions
as image config fields."""

from __future__ import annotations

import json
import shlex
from typing import Any

from berth.common import reference

from ..http.errors import bad_request
from .builtin import PATH_ENV


def import_name(repo: str, tag: str) -> str:
    """repo (which may carry its own :tag) and tag as one familiar "name:tag", or "" (untagged)."""
    if not repo:
        return ""
    try:
        ref = reference.parse(repo)
        if tag:
            ref = reference.parse(f"{ref.familiar_name}:{tag}")
    except reference.ReferenceError as e:
        raise bad_request(str(e)) from None
    if ref.digest:
        raise bad_request("invalid reference format: an imported image cannot be named by a digest")
    return ref.with_default_tag().familiar()


def _json_or_shell(rest: str) -> list[str]:
    rest = rest.strip()
    if rest.startswith("["):
        try:
            value = json.loads(rest)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
        except ValueError:
            pass
    return ["/bin/sh", "-c", rest]


def _pairs(rest: str) -> list[tuple[str, str]]:
    """KEY=VALUE ... (quotes allowed), or the old `KEY VALUE` form."""
    words = shlex.split(rest)
    if words and "=" not in words[0]:
        return [(words[0], rest.strip()[len(words[0]):].strip())]
    return [tuple(w.split("=", 1)) if "=" in w else (w, "") for w in words]  # type: ignore[misc]


def apply_changes(changes: list[str]) -> dict[str, Any]:
    """`docker import --change` Dockerfile instructions as image config fields."""
    config: dict[str, Any] = {}
    for change in changes:
        instr, _, rest = change.strip().partition(" ")
        instr = instr.upper()
        if not rest.strip():
            raise bad_request(f"{instr} requires at least one argument")
        if instr in ("CMD", "ENTRYPOINT"):
            config["Cmd" if instr == "CMD" else "Entrypoint"] = _json_or_shell(rest)
        elif instr == "ENV":
            env = config.setdefault("Env", list(PATH_ENV))
            for k, v in _pairs(rest):
                env[:] = [e for e in env if e.split("=", 1)[0] != k] + [f"{k}={v}"]
        elif instr == "LABEL":
            config.setdefault("Labels", {}).update(dict(_pairs(rest)))
        elif instr == "WORKDIR":
            config["WorkingDir"] = rest.strip()
        elif instr == "USER":
            config["User"] = rest.strip()
        elif instr == "STOPSIGNAL":
            config["StopSignal"] = rest.strip()
        elif instr == "EXPOSE":
            ports = config.setdefault("ExposedPorts", {})
            for p in rest.split():
                ports[p if "/" in p else p + "/tcp"] = {}
        elif instr == "VOLUME":
            vols = config.setdefault("Volumes", {})
            for v in (_json_or_shell(rest) if rest.strip().startswith("[") else rest.split()):
                vols[v] = {}
        else:
            raise bad_request(f"{instr} is not a valid change command")
    return config
