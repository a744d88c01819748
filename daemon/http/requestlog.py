"""One log line per request at debug level, as dockerd's "Calling GET /v1.45/containers/json"
(here with the status and how long the answer took), an audit line at info level for every
request that changes something (who, what, on which object: security/audit.py), and a
request that fails unexpectedly:
logged once, traceback and all, and answered with a 500 that says what failed.

`log_requests` wraps the whole ASGI app (outside the version stripping, so the path is
the one the client sent). `CatchUnexpected` sits inside FastAPI, where Starlette's own
handler for Exception would log nothing useful and re-raise to uvicorn, which logs the
same traceback a second time.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.requests import ClientDisconnect

from ..security import audit
from .access import ASGIApp, Scope

log = logging.getLogger("berthd.api")


def _target(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    return scope.get("path", "") + ("?" + query if query else "")


def log_requests(app: ASGIApp) -> ASGIApp:
    async def logged(scope: Scope, receive: Any, send: Any) -> None:
        audited = scope["type"] == "http" and audit.is_mutating(scope)
        if scope["type"] != "http" or not (audited or log.isEnabledFor(logging.DEBUG)):
            await app(scope, receive, send)
            return
        started, status, body = time.monotonic(), 0, b""

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status, body
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and audited and len(body) < 4096:
                body += message.get("body", b"")  # a create's answer names the new object
            await send(message)

        outcome = ""
        try:
            await app(scope, receive, sending)
        except BaseException:
            outcome = " (failed)"
            raise
        finally:
            ms = (time.monotonic() - started) * 1000
            if audited:
                audit.record(scope, status, body)
            log.debug("Calling %s %s: %s in %.1f ms%s", scope["method"], _target(scope),
                      status or "no answer", ms, outcome)

    return logged


def unexpected_message(scope: Scope, exc: BaseException) -> str:
    return f"internal error: {scope.get('method', '')} {scope.get('path', '')}: {type(exc).__name__}: {exc}"


class CatchUnexpected:
    """ASGI middleware: an exception no handler took is logged here with its traceback and
    answered with a 500 {"message": ...}; once the answer has begun it can only be cut."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except ClientDisconnect:  # left in the middle of its request's body: nobody to answer
            log.debug("%s %s: the client left", scope.get("method", ""), scope.get("path", ""))
        except Exception as exc:  # noqa: BLE001 - the last stop: log it and answer, never re-raise
            message = unexpected_message(scope, exc)
            log.error("%s%s", message, " (the answer had begun: cut short)" if started else "",
                      exc_info=exc)
            if started:
                return
            body = json.dumps({"message": message}).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
