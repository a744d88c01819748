"""docker save and load: GET /images/{name}/get, GET /images/get, POST /images/load.

The archive is berth-containerd's (both a docker-archive and an OCI layout); berthd
only passes the bytes through, streamed both ways.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from ..http.params import Bool
from ..images import archive
from .models import errors

router = APIRouter(tags=["Image"])
_TAR = {"200": {"description": "a tar archive: docker-archive and OCI image layout",
                "content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}}}}
_TAR_BODY = {"requestBody": {"required": True, "description": "A tar archive, as `docker save` writes it, "
                             "or an OCI image layout", "content": {"application/x-tar": {
                                 "schema": {"type": "string", "format": "binary"}}}}}


@router.get("/images/get", responses={**_TAR, **errors({400: "no names", 404: "No such image",
                                                          500: "server error"})})
async def save_images(request: Request, names: Annotated[list[str], Query(
        description="Image names or ids to export")] = []) -> StreamingResponse:  # noqa: B006 - FastAPI copies it
    return StreamingResponse(await archive.save(request.app.state.engine, names), media_type="application/x-tar")


@router.get("/images/{name:path}/get", responses={**_TAR, **errors({404: "No such image", 500: "server error"})})
async def save_image(request: Request, name: Annotated[str, Path(description="Image name or id")]) -> StreamingResponse:
    return StreamingResponse(await archive.save(request.app.state.engine, [name]),
                             media_type="application/x-tar")


@router.post("/images/load", openapi_extra=_TAR_BODY, responses=errors({400: "bad archive", 500: "server error"}))
async def load_images(request: Request, quiet: Annotated[Bool, Query(
        description="Suppress progress details during load.")] = False) -> Response:
    return Response(await archive.load(request.app.state.engine, request.stream()),
                    media_type="application/json")
