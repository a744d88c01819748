"""Docker's API paths come with or without /vX.Y; routes are written unversioned."""

from __future__ import annotations

import json
import re
from typing import Any

from .access import ASGIApp, Scope
from ..config import API_VERSION, MIN_API_VERSION

_VERSIONED = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")


def _as_tuple(v: str) -> tuple[int, int]:
    major, minor = v.split(".")
    return int(major), int(minor)


def _error_for(version: tuple[int, int]) -> str | None:
    text = f"{version[0]}.{version[1]}"
    if version > _as_tuple(API_VERSION):
        return f"client version {text} is too new. Maximum supported API version is {API_VERSION}"
    if version < _as_tuple(MIN_API_VERSION):
        return (f"client version {text} is too old. Minimum supported API version is "
                f"{MIN_API_VERSION}, please upgrade your client to a newer version")
    return None


def strip_version(app: ASGIApp) -> ASGIApp:
    async def unversioned(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            m = _VERSIONED.match(scope["path"])
            if m:
                version = (int(m.group(1)), int(m.group(2)))
                error = _error_for(version)
                if error:
                    body = json.dumps({"message": error}).encode()
                    await send({"type": "http.response.start", "status": 400,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode())]})
                    await send({"type": "http.response.body", "body": body})
                    return
                scope = dict(scope)
                scope["path"] = m.group(3)
                scope["raw_path"] = m.group(3).encode()
                scope["berth.api_version"] = version
        await app(scope, receive, send)

    return unversioned


def at_least(path: str, version: str) -> bool:
    """Whether a request for `path` speaks API `version` or later (unversioned: the latest)."""
    m = _VERSIONED.match(path)
    return m is None or (int(m.group(1)), int(m.group(2))) >= _as_tuple(version)
