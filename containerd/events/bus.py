"""Events: every published event goes to every current subscriber's queue."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from berth.common.timefmt import rfc3339_nano


@dataclass
class Event:
    topic: str
    id: str
    pid: int = 0
    exit_status: int = 0
    timestamp: str = ""


class EventBus:
    def __init__(self) -> None:
        self._subs: set["queue.Queue[Event | None]"] = set()
        self._lock = threading.Lock()

    def publish(self, topic: str, id: str, pid: int = 0, exit_status: int = 0) -> None:
        ev = Event(topic, id, pid, exit_status, rfc3339_nano())
        with self._lock:
            subs = list(self._subs)
        for q in subs:
            q.put(ev)

    def subscribe(self) -> "queue.Queue[Event | None]":
        q: "queue.Queue[Event | None]" = queue.Queue()
        with self._lock:
            self._subs.add(q)
        return q

    def unsubscribe(self, q: "queue.Queue[Event | None]") -> None:
        """Detach and wake the reader (None ends its stream)."""
        with self._lock:
            self._subs.discard(q)
        q.put(None)

    def close(self) -> None:
        with self._lock:
            subs, self._subs = list(self._subs), set()
        for q in subs:
            q.put(None)
