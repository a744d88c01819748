"""POST /build (docker's classic builder) and POST /build/prune."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from ..http.errors import bad_request
from ..http.params import Bool
from .models import errors

router = APIRouter(tags=["Image"])
_TAR_BODY = {"requestBody": {"required": False, "description": "The build context: a tar archive (plain, gzip, "
                             "bzip2 or xz) with the Dockerfile in it", "content": {"application/x-tar": {
                                 "schema": {"type": "string", "format": "binary"}}}}}
_REFUSED = "Refused unless empty or zero: berth's builder does not do it."


@router.post("/build", openapi_extra=_TAR_BODY, responses=errors({400: "bad parameter", 500: "server error"}))
async def build(
        request: Request,
        dockerfile: Annotated[str, Query(description="Path within the build context to the Dockerfile.")] = "Dockerfile",
        t: Annotated[list[str], Query(description="A name and optional tag to apply to the image in the "
                                                  "`name:tag` format; repeated for several.")] = [],  # noqa: B006
        extrahosts: Annotated[str, Query(description=_REFUSED)] = "",
        remote: Annotated[str, Query(description="A remote context URL: refused (send the context as the body).")] = "",
        q: Annotated[Bool, Query(description="Suppress verbose build output.")] = False,
        nocache: Annotated[Bool, Query(description="Do not use the cache when building the image.")] = False,
        cachefrom: Annotated[str, Query(description=_REFUSED)] = "",
        pull: Annotated[str, Query(description="Attempt to pull the image even if an older image exists "
                                               "locally.")] = "",
        rm: Annotated[Bool, Query(description="Remove intermediate containers after a successful build "
                                              "(berth always does: false is refused).")] = True,
        forcerm: Annotated[Bool, Query(description="Always remove intermediate containers (berth always "
                                                   "does).")] = False,
        memory: Annotated[str, Query(description=_REFUSED)] = "",
        memswap: Annotated[str, Query(description=_REFUSED)] = "",
        cpushares: Annotated[str, Query(description=_REFUSED)] = "",
        cpusetcpus: Annotated[str, Query(description=_REFUSED)] = "",
        cpuperiod: Annotated[str, Query(description=_REFUSED)] = "",
        cpuquota: Annotated[str, Query(description=_REFUSED)] = "",
        buildargs: Annotated[str, Query(description="JSON map of string pairs for build-time variables.")] = "",
        shmsize: Annotated[str, Query(description=_REFUSED)] = "",
        squash: Annotated[Bool, Query(description="Refused: berth does not squash.")] = False,
        labels: Annotated[str, Query(description="Arbitrary key/value labels to set on the image, as a JSON "
                                                 "map of string pairs.")] = "",
        networkmode: Annotated[str, Query(description="The network of RUN containers: default, bridge, host "
                                                      "or none.")] = "",
        platform: Annotated[str, Query(description="Platform in the format os[/arch[/variant]] (this "
                                                   "machine's only).")] = "",
        target: Annotated[str, Query(description="Target build stage")] = "",
        outputs: Annotated[str, Query(description=_REFUSED)] = "",
        version: Annotated[str, Query(description="Builder version: 1 (classic); 2 (BuildKit) is "
                                                  "refused.")] = "",
        content_type: Annotated[str, Header(alias="Content-type", description="application/x-tar")] = "",
        x_registry_config: Annotated[str, Header(alias="X-Registry-Config", description="Registry "
                                                 "credentials for the pulls (FROM, COPY --from): base64url JSON of "
                                                 "{server address: AuthConfig}")] = "",
) -> StreamingResponse:
    from ..build import service  # loaded on the first build: an idle berthd holds none of it

    return await service.build(request.app.state.engine, request.query_params, request.stream(), x_registry_config)


@router.post("/build/prune", responses=errors({400: "bad parameter", 500: "server error"}))
async def prune(
        request: Request,
        all: Annotated[Bool, Query(description="Remove all types of build cache")] = False,
        filters: Annotated[str, Query(description="Filters: refused (berth's cache has no entries to "
                                                  "filter by age or type)")] = "",
        keep_storage: Annotated[str, Query(alias="keep-storage", description="Accepted; berth's cache holds "
                                                                              "no storage of its own")] = "",
) -> dict:
    """The cache's keys go; the images they named stay (image prune removes them)."""
    if filters not in ("", "{}"):
        raise bad_request("filters are not supported by berth's build cache prune")
    from ..build.cache import BuildCache

    n = BuildCache(request.app.state.engine.config.data_root).prune()
    return {"CachesDeleted": [] if not n else [f"{n} cache keys"], "SpaceReclaimed": 0}
