"""Unix socket paths longer than sun_path (108 bytes) reached through /proc/self/fd.

Bundle directories can be deep (state root + 64-hex id), so DIR/shim.sock may not fit
in sockaddr_un; the kernel resolves /proc/self/fd/N/NAME like any path, so binding or
connecting through an O_PATH descriptor of DIR works whatever DIR's length.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import TypeVar

_SUN_PATH_MAX = 107
T = TypeVar("T")


def with_short_path(path: str, use: Callable[[str], T]) -> T:
    if len(path.encode()) <= _SUN_PATH_MAX:
        return use(path)
    dfd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return use(f"/proc/self/fd/{dfd}/{os.path.basename(path)}")
    finally:
        os.close(dfd)


def connect(path: str, timeout: float | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        with_short_path(path, sock.connect)
    except BaseException:
        sock.close()
        raise
    return sock


def listen(path: str, mode: int = 0o600) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with_short_path(path, sock.bind)
        os.chmod(path, mode)
        sock.listen(64)
    except BaseException:
        sock.close()
        raise
    return sock
