"""The shim's wire protocol: one JSON object per line each way, errors with a code.

A request is `{"op": ..., ...}`; an answer is the op's object, or
`{"error": "message", "code": "not_found|failed_precondition|invalid|internal"}`,
the codes berth-containerd maps to gRPC statuses.  Nothing here touches a socket.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Request = dict[str, Any]
Answer = dict[str, Any]
CODES = ("not_found", "failed_precondition", "invalid", "internal")


class RequestError(Exception):
    """A refused request: its message and code are what the caller hears."""

    def __init__(self, message: str, code: str = "internal") -> None:
        super().__init__(message)
        self.code = code


def error(message: str, code: str) -> Answer:
    return {"error": message, "code": code}


def answer(line: bytes, handle: Callable[[Request], Answer | None]) -> Answer | None:
    """Decode one request line and run `handle` on it; every failure becomes an error answer.

    None means no answer now (a pending wait, or a handler that answered itself).
    """
    try:
        request = json.loads(line)
        if not isinstance(request, dict):
            raise RequestError("request must be a JSON object", "invalid")
        return handle(request)
    except RequestError as e:
        return error(str(e), e.code)
    except ValueError as e:
        return error(f"malformed request: {e}", "invalid")
    except Exception as e:  # noqa: BLE001 - a bug must not take the container's shim down
        return error(f"{type(e).__name__}: {e}", "internal")


def encode(message: Answer) -> bytes:
    return json.dumps(message).encode() + b"\n"


def next_line(buf: bytearray) -> bytes | None:
    """Take the first complete line out of `buf` (without its newline), if there is one."""
    end = buf.find(b"\n")
    if end < 0:
        return None
    line = bytes(buf[:end])
    del buf[:end + 1]
    return line
