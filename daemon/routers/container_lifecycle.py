"""/containers/{id}/restart (and, later, the rest of a container's life the API exposes):
a stop with the container's StopTimeout, then a start by the user, as dockerd's
ContainerRestart; its "restart" event follows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from ..containers.process import parse_signal
from ..containers.service import Engine
from ..http.errors import ApiError
from ..http.params import Int
from .models import errors

router = APIRouter(tags=["Container"])

ContainerId = Annotated[str, Path(alias="id", description="ID or name of the container")]


@router.post("/containers/{id}/restart", status_code=204,
             responses=errors({404: "no such container", 500: "server error"}))
async def restart(ref: ContainerId, request: Request,
                  signal: Annotated[str, Query(
                      description="Signal to send to the container as an integer or string "
                                  "(e.g. `SIGINT`); the container's StopSignal by default.")] = "",
                  t: Annotated[Int, Query(description="Number of seconds to wait before killing "
                                                      "the container")] = None) -> Response:
    engine: Engine = request.app.state.engine
    c = engine.store.get(ref)
    sig = parse_signal(signal) if signal else None
    try:
        await engine.stop(c, t, sig)
        await engine.start(c)
    except ApiError as e:
        raise ApiError(e.status, f"Cannot restart container {ref}: {e.message}") from None
    engine.events.container(c, "restart")
    return Response(status_code=204)
