"""HTTP by hand on a socket, for what a client library hides: an interim 100, a
hijacked connection's 101 and the raw stream behind it."""

from __future__ import annotations

import socket


def read_head(s: socket.socket) -> tuple[bytes, bytes]:
    """An answer's head (through its empty line) and what the reads brought after it."""
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(4096)
        assert chunk, got  # closed before the head ended
        got += chunk
    head, rest = got.split(b"\r\n\r\n", 1)
    return head + b"\r\n\r\n", rest
