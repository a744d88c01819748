"""/containers/prune (docker restart is routers/container_ops.py's)."""

from __future__ import annotations

from typing import Annotated

from berth.common.timefmt import parse_rfc3339_nano
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from ..containers.service import Engine
from ..http.errors import ApiError
from ..events import times
from ..http.params import parse_filters
from .models import errors

router = APIRouter(tags=["Container"])

ContainerId = Annotated[str, Path(alias="id", description="ID or name of the container")]


@router.post("/containers/prune", responses=errors({400: "bad filter", 500: "server error"}))
async def prune(request: Request,
                filters: Annotated[str, Query(description="Filters, encoded as JSON: `until` (a timestamp or "
                                                          "duration), `label` and `label!` (key or key=value)")] = "",
                ) -> JSONResponse:
    """Every container that does not run (created, exited, dead) and matches, removed as
    `DELETE /containers/{id}` removes it."""
    engine: Engine = request.app.state.engine
    wanted = parse_filters(filters)
    for key in wanted:
        if key not in ("until", "label", "label!"):
            raise ApiError(400, f"invalid filter '{key}'")
    until = times.parse(wanted["until"][-1]) if wanted.get("until") else 0
    gone: list[str] = []
    for c in list(engine.store.by_id.values()):
        if c.state.status not in ("created", "exited", "dead"):
            continue
        if until and parse_rfc3339_nano(c.created) >= until:
            continue
        labels = c.config.get("Labels") or {}
        if not all(_has(labels, v) for v in wanted.get("label", [])) or \
                any(_has(labels, v) for v in wanted.get("label!", [])):
            continue
        try:
            await engine.remove(c, force=False)
        except ApiError:
            continue  # started meanwhile, or its removal failed: dockerd skips it too
        gone.append(c.id)
    if gone:
        engine.events.publish("container", "prune", "", {"reclaimed": "0"})
    return JSONResponse({"ContainersDeleted": gone or None, "SpaceReclaimed": 0})


def _has(labels: dict[str, str], filt: str) -> bool:
    key, eq, value = filt.partition("=")
    return key in labels and (not eq or labels[key] == value)
