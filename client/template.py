"""`--format` for inspect: the part of Go's text/template that docker users type.

`{{.State.Pid}}`, `{{.Name}} {{.Config.Image}}`, `{{json .Config.Env}}`, `{{.}}`,
applied to the JSON the daemon sent, the way the docker CLI applies it to a decoded
map: a missing key is an error, maps print as `map[k:v]`, lists as `[a b]`.
"""

from __future__ import annotations

import json
import re

_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.S)
_PATH = re.compile(r"^\.(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)?$")


class TemplateError(Exception):
    """Docker prints it as `template parsing error: ...`."""


class ExecError(TemplateError):
    """A template that parsed but failed on this object (docker: exit 1, not 64)."""


def _lookup(value: object, path: str, col: int) -> object:
    for part in path.strip(".").split(".") if path != "." else []:
        if not isinstance(value, dict):
            raise ExecError(f'template: :1:{col}: executing "" at <{path}>: can\'t evaluate field {part}')
        if part not in value:
            raise ExecError(f'template: :1:{col}: executing "" at <{path}>: map has no entry for key "{part}"')
        value = value[part]
    return value


def _go_text(value: object) -> str:
    """fmt's %v of a decoded JSON value."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_text(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_text(v) for v in value) + "]"
    return str(value)


def _evaluate(action: str, data: object, col: int) -> str:
    words = action.split()
    if len(words) == 1 and _PATH.match(words[0]):
        return _go_text(_lookup(data, words[0], col))
    if len(words) == 2 and words[0] == "json" and _PATH.match(words[1]):
        return json.dumps(_lookup(data, words[1], col), separators=(",", ":"), ensure_ascii=False)
    name = words[0] if words else ""
    raise TemplateError(f'template: :1: function "{name}" not defined' if name and not name.startswith(".")
                        else f"template: :1: unexpected {action!r} in command")


def render(template: str, data: object) -> str:
    out, pos = [], 0
    for m in _ACTION.finditer(template):
        out.append(template[pos:m.start()])
        out.append(_evaluate(m.group(1), data, m.start(1)))
        pos = m.end()
    out.append(template[pos:])
    return "".join(out)


def check(template: str) -> None:
    """Refuse a template before any request is made, as docker parses it first."""
    try:
        render(template, {})
    except ExecError:
        pass  # fields are checked against each object
