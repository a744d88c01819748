"""docker restart (the user's command; restart *policies* are restart.py's): stop if
running (the timeout and signal of stop), then start, then the "restart" event, as
moby's containerRestart. A stopped container is simply started."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..http.errors import ApiError
from .store import Container

if TYPE_CHECKING:
    from .service import Engine


async def restart(engine: Engine, c: Container, timeout: int | None, sig: int | None) -> None:
    try:
        await engine.stop(c, timeout, sig)  # a pending policy restart is cancelled there too
        started = engine.events.seen(c.id, "start")  # berth-containerd's; "restart" comes after it
        try:
            began = await engine.start(c)
        except BaseException:
            engine.events.unwatch(c.id, "start", started)
            raise
        if began:
            await started
        else:
            engine.events.unwatch(c.id, "start", started)
    except ApiError as e:
        raise ApiError(e.status, f"Cannot restart container {c.id}: {e.message}") from None
    engine.events.container(c, "restart")
