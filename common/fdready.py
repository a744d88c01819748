"""An fd waited on by the event loop: a future its reader (or writer) callback settles,
the callback removed however the wait ends (cancelled too). berthd's waits on a FIFO's
end (cp out), a pipe that is full (cp in over TLS) and berth-containerd's pidfd."""

from __future__ import annotations

import asyncio


async def ready(fd: int, write: bool = False) -> None:
    """Until `fd` is readable (`write`: writable)."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    if write:
        loop.add_writer(fd, _wake, done)
    else:
        loop.add_reader(fd, _wake, done)
    try:
        await done
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


def _wake(done: asyncio.Future) -> None:
    if not done.done():  # the loop may call back again before the waiter runs
        done.set_result(None)
