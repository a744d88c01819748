"""/volumes/...: list, create, inspect, remove, prune (daemon/volumes/ does the work)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from ..containers.service import Engine
from ..http.errors import bad_request
from ..http.params import Bool, parse_filters
from .models import errors

router = APIRouter(tags=["Volume"])
VolumeName = Annotated[str, Path(alias="name", description="Volume name or ID")]
_LIST_FILTERS = ('Filters, encoded as JSON (a `map[string][]string`): dangling=true|false, driver, '
                 'label=KEY or label=KEY=VALUE, name (a part of the name).')
_PRUNE_FILTERS = ('Filters, encoded as JSON (a `map[string][]string`): label, label!, all=true (every unused '
                  'volume, not only anonymous ones).')


def _engine(request: Request) -> Engine:
    return request.app.state.engine


@router.get("/volumes", responses=errors({400: "bad filter", 500: "server error"}))
async def list_volumes(request: Request,
                       filters: Annotated[str, Query(description=_LIST_FILTERS)] = "") -> JSONResponse:
    vols = _engine(request).volumes
    found = vols.list(parse_filters(filters))
    return JSONResponse({"Volumes": [vols.view(v) for v in found], "Warnings": None})


def _strings(body: dict[str, Any], key: str) -> dict[str, str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise bad_request(f"invalid {key}: must be an object of strings")
    return {str(k): v for k, v in value.items()}


@router.post("/volumes/create", status_code=201,
             responses=errors({400: "bad parameter", 404: "volume driver not found", 500: "server error"}))
async def create(request: Request, body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    name, driver = body.get("Name") or "", body.get("Driver") or ""
    if not isinstance(name, str) or not isinstance(driver, str):
        raise bad_request("invalid Name or Driver: must be strings")
    vols = _engine(request).volumes
    v = vols.create(name, driver, _strings(body, "Labels"), _strings(body, "DriverOpts"))
    return JSONResponse(vols.view(v), status_code=201)


@router.get("/volumes/{name}", responses=errors({404: "no such volume", 500: "server error"}))
async def inspect(ref: VolumeName, request: Request) -> JSONResponse:
    vols = _engine(request).volumes
    return JSONResponse(vols.view(vols.get(ref)))


@router.delete("/volumes/{name}", status_code=204,
               responses=errors({404: "no such volume or volume driver", 409: "volume is in use and cannot be "
                                 "removed", 500: "server error"}))
async def remove(ref: VolumeName, request: Request,
                 force: Annotated[Bool, Query(description="Force the removal of the volume")] = False) -> Response:
    _engine(request).volumes.remove(ref, force)
    return Response(status_code=204)


@router.post("/volumes/prune", responses=errors({400: "bad filter", 500: "server error"}))
async def prune(request: Request, filters: Annotated[str, Query(description=_PRUNE_FILTERS)] = "") -> JSONResponse:
    gone, space = _engine(request).volumes.prune(parse_filters(filters))
    return JSONResponse({"VolumesDeleted": gone or None, "SpaceReclaimed": space})
