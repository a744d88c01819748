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
