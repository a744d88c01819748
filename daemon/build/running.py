"""RUN: the command in a real container made from the stage's current image (same
chain as `docker run`: berth-containerd, a shim, the runtime), its output streamed
as it comes, its upper dir committed as the step's layer, the container removed
whether it worked or not."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from ..http.errors import ApiError
from ..libcontainerd import Image
from ..streams import logs
from .steps import Stage, StepError

log = logging.getLogger("berthd.build")
Say = Callable[[str], Awaitable[None]]


def _args_env(stage: Stage) -> list[str]:
    """Build args reach RUN as environment variables, under the stage's ENV."""
    declared = {k: v for k, v in stage.args.items() if v is not None}
    env_keys = {e.partition("=")[0] for e in stage.config.get("Env") or []}
    return [f"{k}={v}" for k, v in declared.items() if k not in env_keys]


async def run(engine: Any, stage: Stage, argv: list[str], created_by: str, say: Say, network: str = "",
              forcerm: bool = False) -> Image:
    """The container is removed in any case (nothing is left behind); its removal is
    printed as dockerd prints it: after a success, or after a failure with forcerm."""
    host = {"NetworkMode": network} if network not in ("", "default") else {}
    body = {"Image": stage.image, "Cmd": argv, "Entrypoint": [""], "Env": _args_env(stage),
            "WorkingDir": stage.config.get("WorkingDir") or "", "User": stage.config.get("User") or "",
            "Labels": {}, "AttachStdout": True, "AttachStderr": True, "HostConfig": host}
    c = await engine.create(None, body)
    worked = False
    try:
        await say(f" ---> Running in {c.id[:12]}\n")
        exited = engine.wait(c, "next-exit")
        await engine.start(c)
        follow = engine.waiters(c.id).exited if c.state.running else asyncio.Event()
        if not c.state.running:
            follow.set()
        stream = logs.stream(logs.open_log(engine.store.log_path(c.id)),
                             logs.LogOptions(follow=True, tty=True), lambda: c.state.running, exited=follow)
        async for chunk in stream:
            await say(chunk.decode(errors="replace"))
        code = await exited
        if code != 0:
            raise StepError(f"The command '{' '.join(argv)}' returned a non-zero code: {code}", code)
        image = await engine.ctrd.commit(c.id, stage.image, stage.config, created_by, consume=True)
        worked = True
        return image
    finally:
        if worked or forcerm:
            await say(f"Removing intermediate container {c.id[:12]}\n")
        try:
            await engine.remove(c, force=True)
        except ApiError as e:
            log.warning("build: removing container %s: %s", c.id, e.message)
