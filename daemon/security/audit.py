"""The audit trail: one line per request that changes something (POST, PUT, DELETE, PATCH),
saying who (the peer's uid and pid on the unix socket, the certificate's subject over TCP),
what (method and path), on which object (the id in the path, or the one a create made)
and how it ended (the status). Logged at info level by `berthd.audit`, whatever the log
level of the request lines, so that it can be kept apart from them."""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import parse_qs

log = logging.getLogger("berthd.audit")

_MUTATING = {"POST", "PUT", "DELETE", "PATCH"}
_VERSION = re.compile(r"^/v[0-9]+\.[0-9]+(?=/)")
_COLLECTIONS = {"containers", "images", "exec", "networks", "volumes", "plugins", "secrets", "configs"}
_NOT_IDS = {"create", "prune", "load", "build", "json", "search"}
_IMAGE_VERBS = {"tag", "push", "json", "history", "get"}


def is_mutating(scope: dict[str, Any]) -> bool:
    return scope.get("method") in _MUTATING


def object_id(path: str, query: str, body: bytes) -> str:
    """The object a request acts on: from its path, or for a create from its answer."""
    parts = _VERSION.sub("", path).strip("/").split("/")
    if not parts or parts[0] not in _COLLECTIONS:
        return ""
    rest = parts[1:]
    if rest and rest[0] not in _NOT_IDS:
        if parts[0] == "images":  # image names have slashes: everything up to the verb
            while len(rest) > 1 and rest[-1] in _IMAGE_VERBS:
                rest = rest[:-1]
            return "/".join(rest)
        return rest[0]
    if rest[:1] == ["create"]:
        try:
            answer = json.loads(body) if body.startswith(b"{") else {}
        except ValueError:
            answer = {}
        if isinstance(answer, dict) and answer.get("Id"):
            return str(answer["Id"])
        q = parse_qs(query)
        return (q.get("fromImage") or q.get("name") or [""])[0]
    return ""


def who(scope: dict[str, Any]) -> str:
    peer = scope.get("berth.peer")
    if peer is not None:
        return f"uid={peer.uid} pid={peer.pid}"
    subject = scope.get("berth.tls_subject") or ""
    client = scope.get("client") or ("", 0)
    return f"tls_subject={subject or '-'} addr={client[0]}:{client[1]}"


def record(scope: dict[str, Any], status: int, body: bytes) -> None:
    path = scope.get("path", "")
    query = scope.get("query_string", b"").decode("latin-1")
    log.info("audit: %s method=%s path=%s id=%s status=%s", who(scope), scope.get("method"), path,
             object_id(path, query, body) or "-", status or "no answer")
