"""/events and /system/df."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, AsyncIterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from ..containers.service import Engine
from ..events import filters as event_filters
from ..events import times
from ..http.params import parse_filters
from ..system import df as disk_usage
from .models import errors

router = APIRouter(tags=["System"])


def _engine(request: Request) -> Engine:
    return request.app.state.engine


@router.get("/events", responses=errors({400: "bad parameter", 500: "server error"}))
async def events(request: Request,
                 since: Annotated[str, Query(description="Show events created since this timestamp then "
                                                         "stream new events.")] = "",
                 until: Annotated[str, Query(description="Show events created until this timestamp then "
                                                         "stop streaming.")] = "",
                 filters: Annotated[str, Query(description=(
                     'A JSON encoded value of filters (a `map[string][]string`) to process on the event '
                     'list: config, container, daemon, event, image, label, network, node, plugin, '
                     'scope, secret, service, type, volume.'))] = "") -> StreamingResponse:
    """docker's event stream: the kept events since `since`, then new ones until `until`
    (or until the client goes), one JSON object per line."""
    log = _engine(request).events
    wanted = parse_filters(filters)
    event_filters.check(wanted)
    now = time.time_ns()
    since_ns = times.parse(since, now) if since else None
    until_ns = times.parse(until, now) if until else None
    kept, queue = log.follow()

    def shown(msg: dict) -> bool:
        t = msg["timeNano"]
        return ((since_ns is None or t >= since_ns) and (until_ns is None or t <= until_ns)
                and event_filters.matches(msg, wanted))

    async def body() -> AsyncIterator[bytes]:
        try:
            if since_ns is not None:
                for msg in kept:
                    if shown(msg):
                        yield json.dumps(msg).encode() + b"\n"
            while until_ns is None or time.time_ns() < until_ns:
                left = None if until_ns is None else max(0.0, (until_ns - time.time_ns()) / 1e9)
                try:
                    msg = await asyncio.wait_for(queue.get(), left)
                except asyncio.TimeoutError:
                    break
                if shown(msg):
                    yield json.dumps(msg).encode() + b"\n"
        finally:
            log.unfollow(queue)

    return StreamingResponse(body(), media_type="application/json")


@router.get("/system/df", responses=errors({400: "bad parameter", 500: "server error"}))
async def system_df(request: Request,
                    type: Annotated[list[str], Query(description=(
                        "Object types, for which to compute and return data: container, image, "
                        "volume, build-cache."))] = []) -> JSONResponse:  # noqa: B006 - FastAPI copies it
    return JSONResponse(await disk_usage.usage(_engine(request), type or []))
