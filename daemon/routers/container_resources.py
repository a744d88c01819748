"""/containers/{id}/stats and /containers/{id}/update: a container's cgroup, read and changed."""

from __future__ import annotations

import json
from typing import Annotated, Any, AsyncIterator

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from ..containers import update as updating
from ..containers.service import Engine
from ..http.params import Bool
from .models import errors

router = APIRouter(tags=["Container"])

ContainerId = Annotated[str, Path(alias="id", description="ID or name of the container")]


def _engine(request: Request) -> Engine:
    return request.app.state.engine


@router.get("/containers/{id}/stats", responses=errors({404: "no such container", 500: "server error"}))
async def stats(ref: ContainerId, request: Request,
                stream: Annotated[Bool, Query(description="Stream the output. If false, the stats will be "
                                                          "output once and then it will disconnect.")] = True,
                one_shot: Annotated[Bool, Query(alias="one-shot", description=(
                    "Only get a single stat instead of waiting for 2 cycles. Must be used with "
                    "`stream=false`."))] = False) -> StreamingResponse:
    """docker's StatsJSON, one JSON object per line; CPU % comes from cpu_stats - precpu_stats."""
    engine = _engine(request)
    c = engine.store.get(ref)
    if one_shot and stream:
        from ..http.errors import bad_request

        raise bad_request("cannot have stream=true and one-shot=true")
    frames = engine.stats.frames(c, stream, one_shot)

    async def body() -> AsyncIterator[bytes]:
        async for frame in frames:
            yield json.dumps(frame).encode() + b"\n"

    return StreamingResponse(body(), media_type="application/json")


@router.post("/containers/{id}/update", responses=errors({400: "bad parameter", 404: "no such container",
                                                          409: "conflict", 500: "server error"}))
async def update(ref: ContainerId, request: Request,
                 body: Annotated[dict[str, Any], Body(description="Resources and RestartPolicy")]) -> JSONResponse:
    engine = _engine(request)
    c = engine.store.get(ref)
    await updating.update(engine.ctrd, engine.store, c, body)
    return JSONResponse({"Warnings": []})
