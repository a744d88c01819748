"""One hijacked `POST /exec/{id}/start`: the same hijack path as attach (daemon/http/protocol.py).

The start body (Detach, Tty) arrives with the request; then the exec runs and the
connection carries its output out and, with AttachStdin, the client's bytes in.  A
failure to start is written into the stream, as dockerd does, and the exit code
is what GET /exec/{id}/json tells the client afterwards.  With a tty the detach keys
end the session (not the process); without one, the client's half-close closes the
process's stdin.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

from ..http.errors import ApiError
from ..streams import detach, logs
from .records import Exec
from .service import Execs


class ExecSession:
    def __init__(self, execs: Execs, e: Exec, write: Callable[[bytes], None]) -> None:
        self.execs, self.e, self._write = execs, e, write
        self.content_type = logs.RAW if e.tty else logs.MULTIPLEXED
        self._in = detach.Input(e.attach_stdin, e.tty, e.detach_keys)
        self.feed, self.feed_eof = self._in.feed, self._in.feed_eof

    async def _pump_stdin(self) -> None:
        fifos, key = self.execs.fifos, self.e.stdin_key
        while True:
            data = await self._in.queue.get()
            if data is None:
                if not self.e.tty:  # dockerd's CloseStdin, which a tty ignores
                    fifos.close(key)
                return
            if not await fifos.write(key, data, lambda: self.e.running):
                return

    async def _copy_output(self, output: AsyncIterator[bytes] | None) -> None:
        if output is None:  # nothing attached: the session lasts as long as the process
            await self.e.exited.wait()
            return
        async for chunk in output:
            self._write(chunk)

    def _end(self) -> asyncio.Event:
        """Set at this session's end, which the exec's DeleteProcess waits for."""
        ended = asyncio.Event()
        # assumed: serve runs in the task daemon/http/protocol.py makes for the connection
        # (_serve_hijacked), which closes the connection and ends right after serve returns
        task = asyncio.current_task()
        assert task is not None
        task.add_done_callback(lambda _: ended.set())
        return ended

    async def serve(self, body: bytes = b"") -> None:
        try:
            options = json.loads(body or b"{}")
        except ValueError:
            options = {}
        detached = isinstance(options, dict) and bool(options.get("Detach"))
        try:
            await self.execs.start(self.e, attached=not detached, session_ended=None if detached else self._end())
        except ApiError as err:
            self._write(logs.frame("stdout", (err.message + "\r\n").encode(), self.e.tty))
            return
        if detached:
            return
        output = self.execs.open_output(self.e)
        tasks = [asyncio.ensure_future(self._copy_output(output)), asyncio.ensure_future(self._in.detached.wait())]
        if self.e.attach_stdin:
            tasks.append(asyncio.ensure_future(self._pump_stdin()))
        try:
            await asyncio.wait(tasks[:2], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
