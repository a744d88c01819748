"""Crash-safe file writes: a reader sees the old content or the new, never half."""

from __future__ import annotations

import json
import os
from typing import Any


def write_atomic(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write, fsync, rename, fsync the directory: the rename is the commit point."""
    directory = os.path.dirname(path) or "."
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def write_json_atomic(path: str, value: Any, mode: int = 0o644) -> None:
    write_atomic(path, json.dumps(value, separators=(",", ":")).encode(), mode)


def read_json(path: str) -> Any:
    with open(path, "rb") as f:
        return json.load(f)
