"""/networks/...: list, inspect, create, remove, connect, disconnect, prune; and the two
swarm endpoints that clients call to clean up, answered as by an engine outside a swarm."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from ..containers.service import Engine
from ..http.errors import ApiError
from ..http.params import Bool, parse_filters
from ..network import manage, views
from .models import errors

router = APIRouter(tags=["Network"])
NetworkId = Annotated[str, Path(alias="id", description="Network ID or name")]
_FILTERS = ('Filters, encoded as JSON (a `map[string][]string`): dangling, driver, id, label, '
            'name, scope, type (custom or builtin).')


def _engine(request: Request) -> Engine:
    return request.app.state.engine


@router.get("/networks", responses=errors({400: "bad filter", 500: "server error"}))
async def list_networks(request: Request, filters: Annotated[str, Query(description=_FILTERS)] = "") -> JSONResponse:
    nets = _engine(request).networks
    wanted = parse_filters(filters)
    out = [views.network(nets, n, with_containers=False) for n in nets.by_id.values() if manage.matches(n, wanted)]
    return JSONResponse(sorted(out, key=lambda n: n["Name"]))


@router.get("/networks/{id}", responses=errors({404: "network not found", 500: "server error"}))
async def inspect(ref: NetworkId, request: Request,
                  verbose: Annotated[Bool, Query(description="Detailed inspect output for troubleshooting")] = False,
                  scope: Annotated[str, Query(description="Filter the network by scope (local)")] = "",
                  ) -> JSONResponse:
    nets = _engine(request).networks
    n = nets.get(ref)
    if scope and scope != "local":
        raise ApiError(404, f"network {ref} not found")
    return JSONResponse(views.network(nets, n))


@router.post("/networks/create", status_code=201,
             responses=errors({400: "bad parameter or unsupported", 403: "operation not supported for "
                               "pre-defined networks", 404: "plugin not found", 409: "name conflict",
                               500: "server error"}))
async def create(request: Request, body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    n = await manage.create(_engine(request).networks, body)
    return JSONResponse({"Id": n.id, "Warning": ""}, status_code=201)


@router.delete("/networks/{id}", status_code=204,
               responses=errors({403: "operation not supported for pre-defined networks",
                                 404: "no such network", 500: "server error"}))
async def remove(ref: NetworkId, request: Request) -> Response:
    await manage.remove(_engine(request).networks, ref)
    return Response(status_code=204)


@router.post("/networks/{id}/connect", status_code=200,
             responses=errors({400: "bad parameter", 403: "operation not supported",
                               404: "network or container not found", 500: "server error"}))
async def connect(ref: NetworkId, request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
    engine = _engine(request)
    c = engine.store.get(_container_ref(body))
    engine.networks.get(ref)
    await manage.connect(engine.networks, ref, c.id, body.get("EndpointConfig") or {}, c.state.running,
                         engine.store.dir_of(c.id))
    return Response(status_code=200)


@router.post("/networks/{id}/disconnect", status_code=200,
             responses=errors({400: "bad parameter", 403: "operation not supported",
                               404: "network or container not found", 500: "server error"}))
async def disconnect(ref: NetworkId, request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
    engine = _engine(request)
    c = engine.store.get(_container_ref(body))
    await manage.disconnect(engine.networks, ref, c.id, engine.store.dir_of(c.id))
    return Response(status_code=200)


@router.post("/networks/prune", responses=errors({400: "bad filter", 500: "server error"}))
async def prune(request: Request, filters: Annotated[str, Query(description="Filters: until, label")] = "",
                ) -> JSONResponse:
    wanted = parse_filters(filters)
    gone = await manage.prune(_engine(request).networks, wanted.get("label", []))
    return JSONResponse({"NetworksDeleted": gone or None})


def _container_ref(body: dict[str, Any]) -> str:
    ref = body.get("Container") or ""
    if not isinstance(ref, str) or not ref:
        raise ApiError(400, "no container given")
    return ref


_NOT_SWARM = ("This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" "
              "to connect this node to swarm and try again.")


@router.get("/swarm", tags=["Swarm"], responses=errors({503: "node is not part of a swarm", 500: "server error"}))
async def swarm_inspect() -> JSONResponse:
    return JSONResponse({"message": _NOT_SWARM}, status_code=503)


@router.post("/swarm/leave", tags=["Swarm"],
             responses=errors({503: "node is not part of a swarm", 500: "server error"}))
async def swarm_leave(force: Annotated[Bool, Query(description="Force leave swarm, even if this is the "
                                                                "last manager or that it will break the "
                                                                "cluster.")] = False) -> JSONResponse:
    return JSONResponse({"message": "This node is not part of a swarm"}, status_code=503)
