"""/containers/{id}/exec and /exec/{id}/...: docker exec over the API.

`POST /exec/{id}/start` with `Upgrade: tcp` is served on the hijacked connection
by the same path as attach (exec_hijack, called from container_streams' hijacker);
without it, a detached start answers at once and an attached one streams the output
as the body (no stdin: there is no connection to read it from).
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, AsyncIterator, Callable
from urllib.parse import unquote

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import StrictBool, StrictInt, StrictStr
from starlette.background import BackgroundTask

from ..containers.service import Engine
from ..exec.records import inspect
from ..exec.session import ExecSession
from ..http.errors import ApiError, bad_request
from ..http.params import Int
from ..streams import logs
from .models import _Open, errors

router = APIRouter(tags=["Exec"])

ContainerId = Annotated[str, Path(alias="id", description="ID or name of the container")]
ExecId = Annotated[str, Path(alias="id", description="Exec instance ID")]
_START = re.compile(r"^(?:/v\d+\.\d+)?/exec/([^/]+)/start$")


class ExecConfig(_Open):
    AttachStdin: StrictBool | None = None
    AttachStdout: StrictBool | None = None
    AttachStderr: StrictBool | None = None
    ConsoleSize: list[StrictInt] | None = None
    DetachKeys: StrictStr | None = None
    Tty: StrictBool | None = None
    Env: list[StrictStr] | None = None
    Cmd: list[StrictStr] | StrictStr | None = None
    Privileged: StrictBool | None = None
    User: StrictStr | None = None
    WorkingDir: StrictStr | None = None


class ExecStart(_Open):
    Detach: StrictBool | None = None
    Tty: StrictBool | None = None
    ConsoleSize: list[StrictInt] | None = None


def _engine(request: Request) -> Engine:
    return request.app.state.engine


@router.post("/containers/{id}/exec", status_code=201,
             responses=errors({400: "bad parameter", 404: "no such container",
                               409: "container is paused or not running", 500: "server error"}))
async def create(ref: ContainerId, body: ExecConfig, request: Request) -> JSONResponse:
    engine = _engine(request)
    c = engine.store.get(ref)
    e = engine.execs.create(ref, c, body.model_dump(exclude_none=True))
    return JSONResponse({"Id": e.id}, status_code=201)


@router.post("/exec/{id}/start",
             responses={200: {"description": "no error (detached), or the output (attached)",
                              "content": {logs.RAW: {}, logs.MULTIPLEXED: {}}},
                        101: {"description": "hijacked: the output out, stdin in"},
                        **errors({400: "the command cannot be run", 404: "no such exec instance",
                                  409: "container is stopped or paused, or the exec already ran",
                                  500: "server error"})})
async def start(ref: ExecId, request: Request, body: ExecStart | None = None) -> Response:
    engine = _engine(request)
    e = engine.execs.get(ref)
    detached = bool(body and body.Detach)
    ended = asyncio.Event()  # the exec's DeleteProcess follows this response's end
    await engine.execs.start(e, attached=not detached, session_ended=None if detached else ended)
    if detached:
        return Response(status_code=200)
    output = engine.execs.open_output(e)

    async def nothing() -> AsyncIterator[bytes]:
        await e.exited.wait()
        return
        yield b""

    return StreamingResponse(output if output is not None else nothing(),
                             media_type=logs.RAW if e.tty else logs.MULTIPLEXED,
                             background=BackgroundTask(ended.set))


@router.post("/exec/{id}/resize",
             responses={200: {"description": "no error"},
                        **errors({400: "bad parameter", 404: "no such exec instance", 500: "server error"})})
async def resize(ref: ExecId, request: Request,
                 h: Annotated[Int, Query(description="Height of the TTY session in characters")] = None,
                 w: Annotated[Int, Query(description="Width of the TTY session in characters")] = None,
                 ) -> Response:
    engine = _engine(request)
    e = engine.execs.get(ref)
    height, width = h or 0, w or 0
    if not (0 <= height < 65536 and 0 <= width < 65536):
        raise bad_request("invalid resize: h and w must be integers from 0 to 65535")
    await engine.execs.resize(e, height, width)
    return Response(status_code=200)


@router.get("/exec/{id}/json", responses=errors({404: "no such exec instance", 500: "server error"}))
async def exec_inspect(ref: ExecId, request: Request) -> JSONResponse:
    return JSONResponse(inspect(_engine(request).execs.get(ref)))


def exec_hijack(engine: Engine, method: str, path: str, query: str,
                write: Callable[[bytes], None]) -> ExecSession | None:
    """The hijacked exec start; None (the normal route answers) for an unknown exec."""
    m = _START.match(path)
    if m is None:
        return None
    try:
        e = engine.execs.get(unquote(m.group(1)))
    except ApiError:
        return None
    return ExecSession(engine.execs, e, write)


