"""The event log: docker-shaped messages made from berth-containerd's events (and the few
only berthd sees: kill, stop, attach, resize), the last ones kept for `since`, each one
given to every current follower.

A new action is one call: `events.container(c, "pause")` from where it happens, or one
entry in _TOPICS when berth-containerd publishes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any, Awaitable, Iterator

from ..containers.store import Container, Store

_KEEP = 1024  # dockerd keeps 256; a few more cost nothing
# berth-containerd's topics -> (docker type, action)
_TOPICS = {
    "/containers/create": ("container", "create"),
    "/tasks/start": ("container", "start"),
    "/tasks/oom": ("container", "oom"),
    "/tasks/exit": ("container", "die"),
    "/containers/delete": ("container", "destroy"),
}  # image events are logged by the API operations, as dockerd's (daemon/images/events.py)
Message = dict[str, Any]


class EventLog:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._recent: deque[Message] = deque(maxlen=_KEEP)
        self._followers: set[asyncio.Queue[Message]] = set()
        self._gone: dict[str, dict[str, str]] = {}  # attributes of containers removed meanwhile
        self._awaited: dict[tuple[str, str], asyncio.Event] = {}
        self._held: dict[str, list[tuple[str, int]]] = {}  # container -> its events, while held

    # ------------------------------------------------------------- publishing
    @contextlib.contextmanager
    def holding(self, cid: str) -> Iterator[None]:
        """berth-containerd's events for `cid` wait, in order, until the block ends: a start
        holds them while its task starts and its state turns running, so that whoever hears
        `start` (compose's logs -f, then asking for the logs to follow) finds the container
        running, as dockerd's order is."""
        self._held.setdefault(cid, [])
        try:
            yield
        finally:
            for topic, exit_status in self._held.pop(cid, []):
                self._from_containerd(topic, cid, exit_status)

    def containerd(self, topic: str, actor: str, exit_status: int = 0) -> None:
        """One event of berth-containerd's stream, if docker has a name for it."""
        if actor in self._held:
            self._held[actor].append((topic, exit_status))
            return
        self._from_containerd(topic, actor, exit_status)

    def _from_containerd(self, topic: str, actor: str, exit_status: int) -> None:
        kind_action = _TOPICS.get(topic)
        if kind_action is None:
            return
        _, action = kind_action
        extra: dict[str, str] = {}
        if action == "die":
            extra["exitCode"] = str(exit_status)
            c = self._store.by_id.get(actor)
            if c is not None and c.state.started_at:
                from berth.common.timefmt import parse_rfc3339_nano

                extra["execDuration"] = str(max(0, (time.time_ns() - parse_rfc3339_nano(c.state.started_at))
                                                // 1_000_000_000))
        self.container(actor, action, **extra)

    def container(self, c: Container | str, action: str, **extra: str) -> None:
        """A container event with docker's attributes: its labels, image, name, and `extra`."""
        cid = c if isinstance(c, str) else c.id
        attrs = self._attributes(cid)
        if action == "destroy":
            self._gone.pop(cid, None)
        self.publish("container", action, cid, {**attrs, **extra})

    def _attributes(self, cid: str) -> dict[str, str]:
        c = self._store.by_id.get(cid)
        if c is None:
            return dict(self._gone.get(cid, {}))
        return {**(c.config.get("Labels") or {}), "image": c.config.get("Image") or c.image,
                "name": c.name.lstrip("/")}

    def forget_later(self, c: Container) -> None:
        """Called before a record is dropped: its destroy event still names it."""
        self._gone[c.id] = self._attributes(c.id)

    def publish(self, kind: str, action: str, actor: str, attrs: dict[str, str]) -> None:
        now = time.time_ns()
        msg: Message = {}
        if kind in ("container", "image"):  # the pre-1.22 fields, which dockerd still sends for these
            msg = {"status": action, "id": actor}
            if kind == "container" and attrs.get("image"):
                msg["from"] = attrs["image"]
        msg.update({"Type": kind, "Action": action, "Actor": {"ID": actor, "Attributes": attrs},
                    "scope": "local", "time": now // 1_000_000_000, "timeNano": now})
        self._recent.append(msg)
        for q in list(self._followers):
            q.put_nowait(msg)
        seen = self._awaited.pop((actor, action), None)
        if seen is not None:
            seen.set()

    def seen(self, actor: str, action: str, timeout: float = 5.0) -> Awaitable[None]:
        """Awaits berth-containerd's event for `action` (watched from this call on): the API
        answers after it, as dockerd's does, so what the client does next is logged after it."""
        key = (actor, action)
        event = self._awaited.setdefault(key, asyncio.Event())

        async def waiting() -> None:
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except asyncio.TimeoutError:
                self._awaited.pop(key, None)

        return waiting()

    def unwatch(self, actor: str, action: str, waiting: Awaitable[None]) -> None:
        """The event will not come (the call failed): drop what seen() set up."""
        self._awaited.pop((actor, action), None)
        waiting.close()  # type: ignore[attr-defined]  # a coroutine never awaited

    # -------------------------------------------------------------- reading
    def follow(self) -> tuple[list[Message], asyncio.Queue[Message]]:
        """What is kept, and a queue of what comes after (no event falls between)."""
        q: asyncio.Queue[Message] = asyncio.Queue()
        self._followers.add(q)
        return list(self._recent), q

    def unfollow(self, q: asyncio.Queue[Message]) -> None:
        self._followers.discard(q)
