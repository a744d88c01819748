"""The containers' stdin FIFOs: berthd's end of containerd's stdin path.

As with containerd's clients, berthd makes one FIFO per started container that has
OpenStdin, passes its path in CreateTaskRequest.stdin_path and holds its write end;
the shim copies the FIFO into the container's stdin.  Opening the FIFO O_RDWR lets
berthd hold a writer before any reader exists (no blocking open, and the shim never
sees an early EOF); closing it is what closes the container's stdin (StdinOnce).

Attach clients may send stdin before the container is started (docker's order is
create, attach, start), so a write waits until the FIFO is `ready`: the task exists,
so the shim has opened it. Before that, closing it would unlink it under the shim.

Nothing here polls: a writer waiting for the FIFO sleeps until one is made ready or
closed (the only moments its answer can change), and a writer facing a full FIFO (the
container is not reading) sleeps until the kernel says there is room again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable


class StdinFifos:
    """FIFO path and held write end per container id."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._fds: dict[str, int] = {}
        self._ready: set[str] = set()  # the shim has opened the FIFO (the task was created)
        self._changed = asyncio.Event()  # set (then replaced) when a FIFO is made ready or closed
        self._room: dict[str, asyncio.Future[None]] = {}  # full FIFOs: resolved when there is room

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
        self._notify()

    def mark_ready(self, cid: str) -> None:
        if cid in self._fds:
            self._ready.add(cid)
            self._notify()

    def close(self, cid: str) -> None:
        """EOF for the shim's reader (the container's stdin closes); the FIFO file goes too."""
        self._ready.discard(cid)
        fd = self._fds.pop(cid, None)
        if fd is not None:
            self._has_room(cid, fd)  # a blocked writer wakes (and finds it closed)
            os.close(fd)
        self._notify()
        try:
            os.unlink(self.path(cid))
        except FileNotFoundError:
            pass

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _has_room(self, cid: str, fd: int) -> None:
        room = self._room.pop(cid, None)
        if room is not None:
            asyncio.get_running_loop().remove_writer(fd)
            if not room.done():
                room.set_result(None)

    async def _until_room(self, cid: str, fd: int) -> None:
        """Until the container read from its full FIFO (or it was closed). Writers of one
        container share one registration; a writer that gives up leaves it to the others."""
        room = self._room.get(cid)
        if room is None:
            loop = asyncio.get_running_loop()
            room = self._room[cid] = loop.create_future()
            loop.add_writer(fd, self._has_room, cid, fd)
        await asyncio.shield(room)

    async def wait_open(self, cid: str, may_open: Callable[[], bool]) -> bool:
        """True once the FIFO exists; False when it never will (`may_open` says no)."""
        while cid not in self._ready:
            if not may_open():
                return False
            await self._changed.wait()  # the answer changes only when a FIFO is made ready or closed
        return True

    async def write(self, cid: str, data: bytes, may_open: Callable[[], bool]) -> bool:
        """All of `data` into the FIFO; False if it is closed (container gone) first."""
        view = memoryview(data)
        while view:
            if not await self.wait_open(cid, may_open):
                return False
            fd = self._fds.get(cid)
            if fd is None:
                return False
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                await self._until_room(cid, fd)  # the container is not reading: the FIFO is full
            except OSError:
                return False
        return True
