"""The API's kill: a SIGKILL answered once the container has stopped."""

from __future__ import annotations

import logging
import os
import signal as _signal
from typing import TYPE_CHECKING

from ..http.errors import ApiError
from .store import Container
from .waiters import KILL_LAST_WAIT, KILL_WAIT, within

if TYPE_CHECKING:
    from .service import Engine

log = logging.getLogger("berthd.engine")


async def kill_and_wait(engine: Engine, c: Container, sig: int) -> None:
    """The API's kill (moby's ContainerKill): after SIGKILL it answers once the container
    has stopped, so that `docker kill X && docker rm X` works; other signals are only
    sent. Like dockerd: if no exit is seen in 10 s, SIGKILL the init process directly,
    and fail if that is not seen to end it within 2 s more."""
    if sig != _signal.SIGKILL:
        await engine.kill(c, sig)
        return
    exited = engine.waiters(c.id).exited  # taken before the signal: this exit, not a later one
    pid = c.state.pid
    await engine.kill(c, sig)
    if await within(exited, KILL_WAIT) or not c.state.running:
        return
    log.warning("container %s did not exit within %ss of SIGKILL: killing pid %d directly",
                c.id, KILL_WAIT, pid)
    try:
        if pid > 0:
            os.kill(pid, _signal.SIGKILL)
    except ProcessLookupError:
        pass
    if not await within(exited, KILL_LAST_WAIT) and c.state.running:
        raise ApiError(500, f"Cannot kill container: {c.id}: tried to kill container, "
                            "but did not receive an exit event")
