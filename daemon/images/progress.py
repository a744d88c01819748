"""docker's JSON progress messages (pkg/jsonmessage, pkg/streamformatter), as berthd
writes them into the body of POST /images/create and the CLI reads them back."""

from __future__ import annotations

import json
from typing import Any

from ..libcontainerd import PullProgress

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float) -> str:
    """go-units HumanSize: decimal units, four significant digits ("1.235MB")."""
    i = 0
    while size >= 1000 and i < len(_UNITS) - 1:
        size /= 1000
        i += 1
    return f"{size:.4g}{_UNITS[i]}"


def progress_bar(current: int, total: int) -> str:
    """JSONProgress.String() at the width dockerd formats it with (no terminal: 200)."""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}"
    percentage = min(int(current / total * 100) // 2, 50)
    bar = "[" + "=" * percentage + ">" + " " * max(50 - percentage, 0) + "] "
    numbers = f"{human_size(current):>8}/{human_size(total)}" if current <= total else f"{human_size(current):>8}"
    return bar + numbers


def message(ev: PullProgress) -> dict[str, Any]:
    if not ev.layer:
        return {"status": ev.status, "id": ev.id} if ev.id else {"status": ev.status}
    msg: dict[str, Any] = {"status": ev.status, "progressDetail": {}}
    if ev.status in ("Downloading", "Extracting") and (ev.current or ev.total):
        msg["progressDetail"] = {"current": ev.current, "total": ev.total}
        msg["progress"] = progress_bar(ev.current, ev.total)
    msg["id"] = ev.id
    return msg


def line(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg, separators=(",", ":")).encode() + b"\r\n"


def error_line(text: str) -> bytes:
    return line({"errorDetail": {"message": text}, "error": text})
