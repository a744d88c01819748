"""What waits on a container: its next exit, its removal, and the lock that orders
start, exit and removal."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Waiters:
    """`exited` is set at the next exit and then replaced: a waiter that took it
    before an exit sees exactly that exit."""
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    removed: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def event_for(self, condition: str, running: bool) -> asyncio.Event | None:
        """What `wait?condition=` waits on (None: nothing, it is met already)."""
        if condition == "not-running":
            return self.exited if running else None
        if condition == "next-exit":
            return self.exited
        if condition == "removed":
            return self.removed
        raise ValueError(f"invalid condition: {condition!r}")


KILL_WAIT, KILL_LAST_WAIT = 10.0, 2.0  # dockerd's, seconds: a SIGKILL's exit, then the init's


async def within(event: asyncio.Event, timeout: float) -> bool:
    """True if `event` was set within `timeout` seconds."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
        return True
    except asyncio.TimeoutError:
        return False
