"""The containers' stdin FIFOs: berthd's end of containerd's stdin path.

As with containerd's clients, berthd makes one FIFO per started container that has
OpenStdin, passes its path in CreateTaskRequest.stdin_path and holds its write end;
the shim copies the FIFO into the container's stdin.  Opening the FIFO O_RDWR lets
berthd hold a writer before any reader exists (no blocking open, and the shim never
sees an early EOF); closing it is what closes the container's stdin (StdinOnce).

Attach clients may send stdin before the container is started (docker's order is
create, attach, start), so a write waits until the FIFO is `ready`: the task exists,
so the shim has opened it. Before that, closing it would unlink it under the shim.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

_POLL = 0.02  # seconds between looks while the FIFO is not there yet, or full


class StdinFifos:
    """FIFO path and held write end per container id."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._fds: dict[str, int] = {}
        self._ready: set[str] = set()  # the shim has opened the FIFO (the task was created)

    def path(self, cid: str) -> str:
        return os.path.join(self.root, f"{cid}-stdin")

    def open(self, cid: str) -> str:
        """A fresh FIFO for a task about to be created; returns its path."""
        self.close(cid)
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        path = self.path(cid)
        os.mkfifo(path, 0o600)
        self._fds[cid] = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        return path

    def adopt(self, cid: str) -> None:
        """Hold the FIFO of a task started by an earlier berthd, if it is still there."""
        if cid in self._fds:
            return
        try:
            self._fds[cid] = os.open(self.path(cid), os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        self._ready.add(cid)

    def mark_ready(self, cid: str) -> None:
        if cid in self._fds:
            self._ready.add(cid)

    def close(self, cid: str) -> None:
        """EOF for the shim's reader (the container's stdin closes); the FIFO file goes too."""
        self._ready.discard(cid)
        fd = self._fds.pop(cid, None)
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(self.path(cid))
        except FileNotFoundError:
            pass

    async def wait_open(self, cid: str, may_open: Callable[[], bool]) -> bool:
        """True once the FIFO exists; False when it never will (`may_open` says no)."""
        while cid not in self._ready:
            if not may_open():
                return False
            await asyncio.sleep(_POLL)
        return True

    async def write(self, cid: str, data: bytes, may_open: Callable[[], bool]) -> bool:
        """All of `data` into the FIFO; False if it is closed (container gone) first."""
        view = memoryview(data)
        while view:
            if not await self.wait_open(cid, may_open):
                return False
            try:
                view = view[os.write(self._fds[cid], view):]
            except BlockingIOError:
                await asyncio.sleep(_POLL)  # the container is not reading: the FIFO is full
            except (KeyError, OSError):
                return False
        return True
