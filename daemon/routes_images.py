"""/images/create (import), /images/json, /images/{name}/json."""

from __future__ import annotations

import json
from typing import AsyncIterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from . import images
from .ctrd import api_error, call_kwargs, pb
from .errors import ApiError, bad_request, normalize_ref

router = APIRouter(tags=["Image"])
_CHUNK = 1 << 20


@router.post("/images/create")
async def create_image(request: Request) -> Response:
    ctrd = request.app.state.engine.ctrd
    q = request.query_params
    if q.get("fromImage"):
        ref = normalize_ref(q["fromImage"] + (":" + q["tag"] if q.get("tag") else ""))
        raise ApiError(404, f"pull access denied for {ref}: berth has no registry support yet; "
                            "use `docker import` (POST /images/create?fromSrc=-) to add images")
    src = q.get("fromSrc")
    if src != "-":
        raise bad_request("fromSrc must be \"-\" (the request body): importing from a URL is not supported"
                          if src else "either fromSrc or fromImage is required")
    name = images.import_name(q.get("repo", ""), q.get("tag", ""))
    config = images.apply_changes(q.getlist("changes"))
    if q.get("message"):
        config["Comment"] = q["message"]

    async def chunks() -> AsyncIterator[pb.ImportRequest]:
        yield pb.ImportRequest(name=name, config=json.dumps(config).encode())
        buf = b""
        async for piece in request.stream():
            buf += piece
            if len(buf) >= _CHUNK:
                yield pb.ImportRequest(chunk=buf)
                buf = b""
        if buf:
            yield pb.ImportRequest(chunk=buf)

    try:
        image = await ctrd.images.Import(chunks(), **call_kwargs(None))
    except Exception as e:  # noqa: BLE001
        raise api_error(e)
    return Response(json.dumps({"status": image.id}) + "\r\n", media_type="application/json")


@router.get("/images/json")
async def list_images(request: Request) -> JSONResponse:
    ctrd = request.app.state.engine.ctrd
    try:
        resp = await ctrd.images.List(pb.ListImagesRequest(), **call_kwargs())
    except Exception as e:  # noqa: BLE001
        raise api_error(e)
    out = [images.summary_json(i) for i in resp.images]
    used: dict[str, int] = {}
    for c in request.app.state.engine.store.by_id.values():
        used[c.image] = used.get(c.image, 0) + 1
    for item in out:
        item["Containers"] = used.get(item["Id"], 0)
    return JSONResponse(sorted(out, key=lambda i: i["Created"], reverse=True))


@router.get("/images/{name:path}/json")
async def inspect_image(name: str, request: Request) -> dict:
    image = await images.resolve(request.app.state.engine.ctrd, name)
    return images.inspect_json(image)
