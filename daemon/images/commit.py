"""docker commit: a container's changes as a new image (POST /commit).

dockerd's order: the container's Config, overridden by the request body's fields,
then the `changes` (Dockerfile instructions) on top; the image config keeps only
the fields an image carries. With pause (the default) a running container is frozen
while its upper dir is read, so the layer is one moment's state.
"""

from __future__ import annotations

from typing import Any

from ..http.errors import ApiError, bad_request
from ..libcontainerd import ContainerdError, Image
from . import events as image_events
from .changes import apply_changes, import_name

IMAGE_FIELDS = ("User", "ExposedPorts", "Env", "Cmd", "Healthcheck", "ArgsEscaped", "Volumes", "WorkingDir",
                "Entrypoint", "OnBuild", "Labels", "StopSignal", "Shell")


def image_config(container_config: dict[str, Any], body: dict[str, Any] | None,
                 changes: list[str]) -> dict[str, Any]:
    cfg = {k: v for k, v in container_config.items() if k in IMAGE_FIELDS and v not in (None, "", [], {})}
    for k, v in (body or {}).items():
        if k in IMAGE_FIELDS and v is not None:
            cfg[k] = v
    changed = apply_changes(changes)
    if "Env" in changed:  # ENV changes add to the container's environment
        env = list(cfg.get("Env") or [])
        for item in changed.pop("Env"):
            key = item.split("=", 1)[0]
            env = [e for e in env if e.split("=", 1)[0] != key] + [item]
        cfg["Env"] = env
    for key in ("Labels", "ExposedPorts", "Volumes"):
        if key in changed:
            cfg[key] = {**(cfg.get(key) or {}), **changed.pop(key)}
    cfg.update(changed)
    return cfg


async def commit(engine: Any, container: str, repo: str, tag: str, comment: str, author: str, pause: bool,
                 changes: list[str], body: dict[str, Any] | None) -> Image:
    c = engine.store.get(container)
    if c.state.status in ("removing", "dead"):
        raise ApiError(409, f"You cannot commit container {c.id} which is being removed")
    if tag and not repo:
        raise bad_request("invalid reference format: a tag requires a repository")
    name = import_name(repo, tag)
    config = image_config(c.config, body, changes)
    created_by = " ".join([c.path, *c.args]).strip()
    paused = False
    if pause and c.state.running:
        try:
            await engine.ctrd.pause_task(c.id)
            paused = True
        except ContainerdError:
            pass  # gone by now: its changes are still there to commit
    try:
        image = await engine.ctrd.commit(c.id, c.image, config, created_by, comment, author, name)
    finally:
        if paused:
            try:
                await engine.ctrd.resume_task(c.id)
            except ContainerdError:
                pass
    if name:
        image_events.tagged(engine.events, image.id, name)
    engine.events.container(c, "commit", comment=comment, imageID=image.id, imageRef=name)
    return image
