"""/images/create (import), /images/json, /images/{name}/json."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ..http.errors import bad_request
from ..images import changes, pull, service, views

router = APIRouter(tags=["Image"])


@router.post("/images/create")
async def create_image(request: Request) -> Response:
    engine = request.app.state.engine
    q = request.query_params
    if q.get("fromImage"):
        return await pull.create_from_image(engine, q, request.headers)
    src = q.get("fromSrc")
    if src != "-":
        raise bad_request("fromSrc must be \"-\" (the request body): importing from a URL is not supported"
                          if src else "either fromSrc or fromImage is required")
    name = changes.import_name(q.get("repo", ""), q.get("tag", ""))
    config = changes.apply_changes(q.getlist("changes"))
    if q.get("message"):
        config["Comment"] = q["message"]
    image = await service.import_tar(engine.ctrd, name, config, request.stream())
    return Response(json.dumps({"status": image.id}) + "\r\n", media_type="application/json")


@router.get("/images/json")
async def list_images(request: Request) -> JSONResponse:
    engine = request.app.state.engine
    out = [views.summary_json(i) for i in await service.list_images(engine.ctrd)]
    used: dict[str, int] = {}
    for c in engine.store.by_id.values():
        used[c.image] = used.get(c.image, 0) + 1
    for item in out:
        item["Containers"] = used.get(item["Id"], 0)
    return JSONResponse(sorted(out, key=lambda i: i["Created"], reverse=True))


@router.get("/images/{name:path}/json")
async def inspect_image(name: str, request: Request) -> dict:
    return views.inspect_json(await service.resolve(request.app.state.engine.ctrd, name))
