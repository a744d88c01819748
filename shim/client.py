"""Talk to a running shim: one JSON request, one JSON answer, over DIR/shim.sock."""

from __future__ import annotations

import json
import socket
from typing import Any, Callable

from berth.shim import unixsock


class ShimGone(ConnectionError):
    """The shim is not there (exited, killed, or never started): nobody holds the container."""


class ShimRequestError(Exception):
    """The shim answered with an error; `code` is not_found|failed_precondition|invalid|internal."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def call(socket_path: str, request: dict[str, Any], timeout: float | None = None,
         sent: Callable[[], None] | None = None) -> dict[str, Any]:
    """Send `request`, return the answer; a "wait" blocks until the container has exited.
    `sent` is called once the request is written (an exec's: its Wait may follow it now).

    Raises ShimGone if the shim cannot be reached or hangs up without answering,
    ShimRequestError if it answers with an error, TimeoutError after `timeout` seconds.
    """
    try:
        sock = unixsock.connect(socket_path, timeout)
    except (FileNotFoundError, ConnectionRefusedError) as e:
        raise ShimGone(f"shim at {socket_path} is gone: {e.strerror}") from None
    with sock:
        try:
            sock.sendall(json.dumps(request).encode() + b"\n")
            if sent is not None:
                sent()
            answer = _read_line(sock)
        except (ConnectionResetError, BrokenPipeError) as e:
            raise ShimGone(f"shim at {socket_path} is gone: {e.strerror}") from None
    if not answer:
        raise ShimGone(f"shim at {socket_path} hung up without answering {request.get('op')!r}")
    reply = json.loads(answer)
    if isinstance(reply, dict) and "error" in reply:
        raise ShimRequestError(reply["error"], reply.get("code", "internal"))
    return reply


def _read_line(sock: socket.socket) -> bytes:
    data = bytearray()
    while not data.endswith(b"\n"):
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("shim did not answer in time") from None
        if not chunk:
            break
        data += chunk
    return bytes(data)
