"""One hijacked attach: the container's output to the client and, with stdin=1, the
client's bytes to the container's stdin (docker's `attach`, `run -i`).

Output comes from the json-file log the shim writes (raw with a tty, stdcopy frames
without).  Input goes through the container's stdin FIFO (daemon/streams/stdin.py) in the
order it arrived; when the client half-closes, a StdinOnce container's stdin is
closed, as dockerd does, so `echo hi | docker run -i busybox cat` ends (not with a
tty: there, as with dockerd, the client going away leaves the shell's stdin open).
With a tty the detach keys (detachKeys, default Ctrl-P Ctrl-Q) end the session and
leave the container running.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from ..containers.service import Engine
from ..containers.store import Container
from ..http.params import qbool
from . import detach, logs


class AttachSession:
    """Made by the hijacker when the request arrives; served once the 101 is sent."""

    def __init__(self, engine: Engine, c: Container, query: dict[str, str],
                 output: Callable[[Engine, Container, dict[str, str]], AsyncIterator[bytes]],
                 write: Callable[[bytes], None]) -> None:
        self.engine, self.c, self.query = engine, c, query
        self._output, self._write = output, write
        self.stdin = qbool(query, "stdin") and bool(c.config.get("OpenStdin"))
        self.content_type = logs.RAW if c.config.get("Tty") else logs.MULTIPLEXED
        # the detach keys were checked by the hijacker
        self._in = detach.Input(self.stdin, bool(c.config.get("Tty")), query.get("detachKeys", ""))
        self.feed, self.feed_eof = self._in.feed, self._in.feed_eof

    def _may_open(self) -> bool:
        """The FIFO may still appear: the container is running, or may be (re)started."""
        c = self.c
        return c.id in self.engine.store.by_id and c.state.status in ("created", "running", "exited")

    async def _pump_stdin(self) -> None:
        fifos = self.engine.stdin
        while True:
            data = await self._in.queue.get()
            if data is None:
                if (self.c.config.get("StdinOnce") and not self.c.config.get("Tty")
                        and await fifos.wait_open(self.c.id, self._may_open)):
                    fifos.close(self.c.id)
                return
            if not await fifos.write(self.c.id, data, self._may_open):
                return

    async def serve(self, body: bytes = b"") -> None:
        loop = asyncio.get_running_loop()
        pump = loop.create_task(self._pump_stdin()) if self.stdin else None
        copy, detached = loop.create_task(self._copy()), loop.create_task(self._in.detached.wait())
        try:
            await asyncio.wait([copy, detached], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, copy, detached):
                if task is not None:
                    task.cancel()

    async def _copy(self) -> None:
        async for chunk in self._output(self.engine, self.c, self.query):
            self._write(chunk)
