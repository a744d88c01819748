"""/containers/{id}/archive (HEAD, GET, PUT: docker cp), /export, /changes, /pause,
/unpause, /rename and /restart. The work is in daemon/containers/ (archive, sizes, pause,
rename, restart_cmd); parameters as Docker's swagger declares them (API v1.45)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from ..containers import archive, pause, rename as renaming, restart_cmd, sizes
from ..containers.process import parse_signal
from ..containers.service import Engine
from ..http import rawbody
from ..http.params import Bool, Int
from .models import errors

router = APIRouter(tags=["Container"])

ContainerId = Annotated[str, Path(alias="id", description="ID or name of the container")]
_PATH = "Resource in the container's filesystem to archive (or: the directory to extract into)"
_STAT = "X-Docker-Container-Path-Stat"
_TAR = {"content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}}}
_TAR_BODY = {"requestBody": {"required": True, "description": "A tar archive (uncompressed) to extract "
                             "into the directory `path`", **_TAR}}


def _engine(request: Request) -> Engine:
    return request.app.state.engine


@router.head("/containers/{id}/archive",
             responses={200: {"description": "no error; the stat in the X-Docker-Container-Path-Stat header"},
                        **errors({400: "bad parameter", 404: "container or path does not exist",
                                  500: "server error"})})
async def archive_stat(ref: ContainerId, request: Request,
                       path: Annotated[str, Query(description=_PATH)] = "") -> Response:
    engine = _engine(request)
    header = await archive.stat(engine, engine.store.get(ref), ref, path)
    return Response(status_code=200, headers={_STAT: header})


@router.get("/containers/{id}/archive",
            responses={200: {"description": "the tar archive of the path", **_TAR},
                       **errors({400: "bad parameter", 404: "container or path does not exist",
                                 500: "server error"})})
async def archive_get(ref: ContainerId, request: Request,
                      path: Annotated[str, Query(description=_PATH)] = "") -> StreamingResponse:
    engine = _engine(request)
    header, data = await archive.get(engine, engine.store.get(ref), ref, path)
    return archive.TarResponse(data, headers={_STAT: header})


@router.put("/containers/{id}/archive", openapi_extra=_TAR_BODY,
            responses={200: {"description": "the content was extracted"},
                       **errors({400: "bad parameter, or the destination is not a directory",
                                 403: "permission denied: the rootfs or volume is read-only",
                                 404: "no such container or path", 500: "server error"})})
async def archive_put(
        ref: ContainerId, request: Request,
        path: Annotated[str, Query(description="Path to a directory in the container to extract the "
                                               "archive's contents into.")] = "",
        noOverwriteDirNonDir: Annotated[Bool, Query(description="If `1`, `true`, then it will be an error "
                                                    "if unpacking the given content would cause an existing "
                                                    "directory to be replaced with a non-directory and vice "
                                                    "versa.")] = False,
        copyUIDGID: Annotated[Bool, Query(description="If `1`, `true`, then it will copy UID/GID maps to "
                                                      "the dest file or dir")] = False,
) -> Response:
    engine = _engine(request)
    await archive.put(engine, engine.store.get(ref), ref, path, rawbody.writer(request.scope, request.stream),
                      copy_uid_gid=copyUIDGID, no_overwrite_dir_non_dir=noOverwriteDirNonDir)
    return Response(status_code=200)


@router.get("/containers/{id}/export",
            responses={200: {"description": "the container's filesystem as a tar archive", **_TAR},
                       **errors({404: "no such container", 500: "server error"})})
async def export(ref: ContainerId, request: Request) -> StreamingResponse:
    engine = _engine(request)
    return archive.TarResponse(await archive.export(engine, engine.store.get(ref)))


@router.get("/containers/{id}/changes",
            responses={200: {"description": "the changes: Path, and Kind (0 modified, 1 added, 2 deleted)"},
                       **errors({404: "no such container", 500: "server error"})})
async def changes(ref: ContainerId, request: Request) -> JSONResponse:
    engine = _engine(request)
    return JSONResponse(await sizes.changes(engine, engine.store.get(ref)))


@router.post("/containers/{id}/pause", status_code=204,
             responses=errors({404: "no such container", 409: "not running, or already paused",
                               500: "server error"}))
async def pause_container(ref: ContainerId, request: Request) -> Response:
    engine = _engine(request)
    await pause.pause(engine, engine.store.get(ref))
    return Response(status_code=204)


@router.post("/containers/{id}/unpause", status_code=204,
             responses=errors({404: "no such container", 409: "not paused", 500: "server error"}))
async def unpause_container(ref: ContainerId, request: Request) -> Response:
    engine = _engine(request)
    await pause.unpause(engine, engine.store.get(ref))
    return Response(status_code=204)


@router.post("/containers/{id}/rename", status_code=204,
             responses=errors({400: "bad parameter", 404: "no such container", 409: "name already in use",
                               500: "server error"}))
async def rename(ref: ContainerId, request: Request,
                 name: Annotated[str, Query(description="New name for the container")] = "") -> Response:
    engine = _engine(request)
    renaming.rename(engine, engine.store.get(ref), name)
    return Response(status_code=204)


@router.post("/containers/{id}/restart", status_code=204,
             responses=errors({400: "bad parameter", 404: "no such container",
                               409: "container is marked for removal", 500: "server error"}))
async def restart(ref: ContainerId, request: Request,
                  signal: Annotated[str, Query(description="Signal to send to the container as an integer or "
                                                           "string (e.g. `SIGINT`).")] = "",
                  t: Annotated[Int, Query(description="Number of seconds to wait before killing the "
                                                      "container")] = None) -> Response:
    engine = _engine(request)
    sig = parse_signal(signal) if signal else None
    await restart_cmd.restart(engine, engine.store.get(ref), t, sig)
    return Response(status_code=204)
