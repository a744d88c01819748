"""/images/create (pull, import), /images/json, /images/{name}/json, push, tag, delete,
history, prune."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from ..http.errors import bad_request
from ..http.params import Bool, parse_filters
from ..images import changes as dockerfile_changes
from ..images import events as image_events
from ..images import manage, pull, service, views
from ..images import push as pushing
from .models import errors

router = APIRouter(tags=["Image"])
_IGNORED = "Accepted for compatibility; berth does not use it."
_TAR_BODY = {"requestBody": {"required": False, "description": "With fromSrc=-: the image's root "
                             "filesystem as a tar archive", "content": {"application/x-tar": {
                                 "schema": {"type": "string", "format": "binary"}}}}}


@router.post("/images/create", openapi_extra=_TAR_BODY,
             responses=errors({400: "bad parameter", 404: "repository does not exist or no read access",
                               500: "server error"}))
async def create_image(
        request: Request,
        fromImage: Annotated[str, Query(description="Name of the image to pull. The name may include a "
                                                    "tag or digest.")] = "",
        fromSrc: Annotated[str, Query(description="Source to import: `-` reads the image "
                                                         "from the request body.")] = "",
        repo: Annotated[str, Query(description="Repository name given to an image when it is "
                                               "imported. The repo may include a tag.")] = "",
        tag: Annotated[str, Query(description="Tag or digest.")] = "",
        message: Annotated[str, Query(description="Set commit message for imported image.")] = "",
        changes: Annotated[list[str], Query(
            description="Apply `Dockerfile` instructions to the image that is created, for "
                        "example: `changes=ENV DEBUG=true`.")] = [],  # noqa: B006 - FastAPI copies it
        platform: Annotated[str, Query(description="Platform in the format os[/arch[/variant]], "
                                                   "for a pull from an index")] = "",
        x_registry_auth: Annotated[str, Header(alias="X-Registry-Auth",
                                               description="A base64url-encoded auth configuration")] = "",
) -> Response:
    engine = request.app.state.engine
    if fromImage:
        return await pull.create_from_image(engine, request.query_params, request.headers)
    if fromSrc != "-":
        raise bad_request("fromSrc must be \"-\" (the request body): importing from a URL is not supported"
                          if fromSrc else "either fromSrc or fromImage is required")
    name = dockerfile_changes.import_name(repo, tag)
    config = dockerfile_changes.apply_changes(changes)
    if message:
        config["Comment"] = message
    image = await service.import_tar(engine.ctrd, name, config, request.stream())
    if name:
        image_events.tagged(engine.events, image.id, name)
    image_events.by_id(engine.events, "import", image.id)
    return Response(json.dumps({"status": image.id}) + "\r\n", media_type="application/json")


@router.get("/images/json", responses=errors({400: "bad parameter", 404: "no such image (before, since)",
                                               500: "server error"}))
async def list_images(
        request: Request,
        all: Annotated[Bool, Query(description="Show all images. Only images from a final layer (no "
                                               "children) are shown by default.")] = False,
        filters: Annotated[str, Query(description="Filters, encoded as JSON (a `map[string][]string`): "
                                                  "`before`, `dangling=true|false`, `label`, "
                                                  "`reference=PATTERN`, `since`.")] = "",
        shared_size: Annotated[Bool, Query(alias="shared-size", description=_IGNORED)] = False,
        digests: Annotated[Bool, Query(description="Show digest information as a `RepoDigests` field on "
                                                   "each image (berth always does).")] = False,
) -> JSONResponse:
    engine = request.app.state.engine
    images = await manage.filter_images(engine.ctrd, await service.list_images(engine.ctrd), parse_filters(filters),
                                        all)
    out = [views.summary_json(i) for i in images]
    used: dict[str, int] = {}
    for c in engine.store.by_id.values():
        used[c.image] = used.get(c.image, 0) + 1
    for item in out:
        item["Containers"] = used.get(item["Id"], 0)
    return JSONResponse(sorted(out, key=lambda i: i["Created"], reverse=True))


@router.post("/images/prune", responses=errors({400: "bad parameter", 500: "server error"}))
async def prune_images(
        request: Request,
        filters: Annotated[str, Query(description="Filters, encoded as JSON (a `map[string][]string`): "
                                                  "`dangling=true|false` (false: every unused image), "
                                                  "`until=TIMESTAMP`, `label`, `label!`.")] = "",
) -> dict:
    engine = request.app.state.engine
    in_use = {c.image for c in engine.store.by_id.values()}
    return await manage.prune(engine.ctrd, parse_filters(filters), in_use)


@router.get("/images/{name:path}/json", responses=errors({404: "No such image", 500: "Server error"}))
async def inspect_image(name: Annotated[str, Path(description="Image name or id")],
                        request: Request) -> dict:
    return views.inspect_json(await service.resolve(request.app.state.engine.ctrd, name))


@router.get("/images/{name:path}/history", responses=errors({404: "No such image", 500: "Server error"}))
async def image_history(name: Annotated[str, Path(description="Image name or id")], request: Request) -> list:
    img = await service.resolve(request.app.state.engine.ctrd, name, layer_sizes=True)
    return manage.history(img, img.layer_sizes, await manage.ancestors(request.app.state.engine.ctrd, img))


@router.post("/images/{name:path}/push", responses=errors({404: "No such image", 500: "Server error"}))
async def push_image(
        request: Request,
        name: Annotated[str, Path(description="Name of the image to push, without its tag (the `tag` "
                                              "parameter), e.g. `registry.example.com/myimage`.")],
        tag: Annotated[str, Query(description="Tag of the image to push; all tags of the repository "
                                              "when empty.")] = "",
        x_registry_auth: Annotated[str, Header(alias="X-Registry-Auth",
                                               description="A base64url-encoded auth configuration")] = "",
) -> StreamingResponse:
    return await pushing.push(request.app.state.engine, name, request.query_params, request.headers)


@router.post("/images/{name:path}/tag", status_code=201,
             responses=errors({400: "bad parameter", 404: "No such image", 409: "Conflict", 500: "Server error"}))
async def tag_image(
        request: Request,
        name: Annotated[str, Path(description="Image name or id to tag")],
        repo: Annotated[str, Query(description="The repository to tag in, e.g. `someuser/someimage`.")] = "",
        tag: Annotated[str, Query(description="The name of the new tag.")] = "",
) -> Response:
    engine = request.app.state.engine
    await manage.tag(engine.ctrd, engine.events, name, repo, tag)
    return Response(status_code=201)


@router.delete("/images/{name:path}", responses=errors({404: "No such image", 409: "Conflict",
                                                        500: "Server error"}))
async def delete_image(
        request: Request,
        name: Annotated[str, Path(description="Image name or id")],
        force: Annotated[Bool, Query(description="Remove the image even if it is being used by stopped "
                                                 "containers or has other tags")] = False,
        noprune: Annotated[Bool, Query(description="Do not delete untagged parent images")] = False,
) -> JSONResponse:
    engine = request.app.state.engine
    return JSONResponse(await manage.delete(engine.ctrd, engine.events, name, force, noprune))


@router.post("/commit", status_code=201,
             openapi_extra={"requestBody": {"required": False, "description": "The container's Config "
                                            "fields to override in the image", "content": {
                                                "application/json": {"schema": {"type": "object"}}}}},
             responses=errors({400: "bad parameter", 404: "no such container", 409: "container is being removed",
                               500: "server error"}))
async def commit_container(
        request: Request,
        container: Annotated[str, Query(description="The ID or name of the container to commit")] = "",
        repo: Annotated[str, Query(description="Repository name for the created image")] = "",
        tag: Annotated[str, Query(description="Tag name for the create image")] = "",
        comment: Annotated[str, Query(description="Commit message")] = "",
        author: Annotated[str, Query(description="Author of the image (e.g., `John Hannibal Smith "
                                                 "<hannibal@a-team.com>`)")] = "",
        pause: Annotated[Bool, Query(description="Whether to pause the container before committing")] = True,
        changes: Annotated[list[str], Query(description="`Dockerfile` instructions to apply while "
                                                        "committing")] = [],  # noqa: B006 - FastAPI copies it
) -> JSONResponse:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError as e:
        raise bad_request(f"invalid JSON in request body: {e}") from None
    if body is not None and not isinstance(body, dict):
        raise bad_request("invalid request: body: must be a JSON object")
    from ..images import commit as committing

    image = await committing.commit(request.app.state.engine, container, repo, tag, comment, author, pause,
                                    changes, body)
    return JSONResponse({"Id": image.id}, status_code=201)
