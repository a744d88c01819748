"""/containers/...: create, list, inspect, start, stop, kill, wait, logs, attach, resize, top, delete."""

from __future__ import annotations

import logging
import re
from typing import AsyncIterator, Callable, Mapping
from urllib.parse import parse_qsl, unquote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from ..containers import top as ps
from ..containers import views
from ..containers.service import Engine, parse_signal
from ..containers.store import Container
from ..http import access
from ..http.access import Peer
from ..http.errors import ApiError, bad_request
from ..http.params import qbool, qfilters, qint
from ..http.protocol import Hijacker
from ..streams import logs
from ..streams.attach import AttachSession
from .models import ContainerCreate, CreateResponse, WaitResponse

router = APIRouter(tags=["Container"])
log = logging.getLogger("berthd.api")


def _engine(request: Request) -> Engine:
    return request.app.state.engine


@router.post("/containers/create", status_code=201, response_model=CreateResponse)
async def create(body: ContainerCreate, request: Request) -> JSONResponse:
    engine = _engine(request)
    raw = body.model_dump()
    raw["HostConfig"] = body.HostConfig.model_dump() if body.HostConfig else {}
    c = await engine.create(request.query_params.get("name") or None, raw)
    return JSONResponse({"Id": c.id, "Warnings": []}, status_code=201)


def _matches(c: Container, filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "status" and c.state.status not in values:
            return False
        if key == "id" and not any(c.id.startswith(v) for v in values):
            return False
        if key == "name" and not any(re.search(v, c.name) for v in values):
            return False
        if key == "exited" and not (c.state.status == "exited" and str(c.state.exit_code) in values):
            return False
        if key == "label":
            labels = c.config.get("Labels") or {}
            for v in values:
                k, eq, val = v.partition("=")
                if k not in labels or (eq and labels[k] != val):
                    return False
        if key == "ancestor" and not any(v in (c.image, c.config.get("Image")) for v in values):
            return False
    return True


@router.get("/containers/json")
async def list_containers(request: Request) -> JSONResponse:
    engine = _engine(request)
    filters = qfilters(request.query_params)
    limit = qint(request.query_params, "limit", -1) or -1
    show_all = qbool(request.query_params, "all") or limit > 0 or "status" in filters or "exited" in filters
    out = []
    for c in engine.store.all():
        if not show_all and not c.state.running:
            continue
        if _matches(c, filters):
            out.append(views.summary(c))
        if 0 < limit <= len(out):
            break
    return JSONResponse(out)


@router.get("/containers/{ref}/json")
async def inspect(ref: str, request: Request) -> JSONResponse:
    engine = _engine(request)
    c = engine.store.get(ref)
    return JSONResponse(views.inspect(c, engine.store, c.config.get("Image", "")))


@router.post("/containers/{ref}/start", status_code=204)
async def start(ref: str, request: Request) -> Response:
    engine = _engine(request)
    started = await engine.start(engine.store.get(ref))
    return Response(status_code=204 if started else 304)


@router.post("/containers/{ref}/stop", status_code=204)
async def stop(ref: str, request: Request) -> Response:
    engine = _engine(request)
    c = engine.store.get(ref)
    sig = request.query_params.get("signal")
    stopped = await engine.stop(c, qint(request.query_params, "t"), parse_signal(sig) if sig else None)
    return Response(status_code=204 if stopped else 304)


@router.post("/containers/{ref}/kill", status_code=204)
async def kill(ref: str, request: Request) -> Response:
    engine = _engine(request)
    sig = parse_signal(request.query_params.get("signal"))  # refused before the lookup, as dockerd does
    await engine.kill_and_wait(engine.store.get(ref), sig)
    return Response(status_code=204)


@router.post("/containers/{ref}/wait", response_model=WaitResponse)
async def wait(ref: str, request: Request) -> StreamingResponse:
    """Headers go out at once (the CLI starts the container after they arrive), the
    body when the condition is met, as docker does."""
    engine = _engine(request)
    c = engine.store.get(ref)
    condition = request.query_params.get("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise bad_request(f"invalid condition: {condition!r}")
    waiting = engine.wait(c, condition)

    async def body() -> AsyncIterator[bytes]:
        code = await waiting
        yield f'{{"StatusCode":{code}}}\n'.encode()

    return StreamingResponse(body(), media_type="application/json")


def log_options(q: Mapping[str, str], c: Container, follow_default: bool = False) -> logs.LogOptions:
    tail = q.get("tail", "all")
    if tail in ("", "all"):
        tail_n = None
    else:
        try:
            tail_n = max(int(tail), 0)
        except ValueError:
            tail_n = None  # docker treats an unparsable tail as "all"
    try:
        since = logs.parse_time(q.get("since", ""))
        until = logs.parse_time(q.get("until", ""))
    except ValueError as e:
        raise bad_request(f"invalid time value: {e}")
    return logs.LogOptions(stdout=qbool(q, "stdout"), stderr=qbool(q, "stderr"),
                           timestamps=qbool(q, "timestamps"), tail=tail_n, since_ns=since,
                           until_ns=until, follow=qbool(q, "follow", follow_default),
                           tty=bool(c.config.get("Tty")))


@router.get("/containers/{ref}/logs")
async def container_logs(ref: str, request: Request) -> StreamingResponse:
    engine = _engine(request)
    c = engine.store.get(ref)
    opts = log_options(request.query_params, c)
    if not opts.stdout and not opts.stderr:
        raise bad_request("Bad parameters: you must choose at least one stream")
    media = logs.RAW if opts.tty else logs.MULTIPLEXED
    return StreamingResponse(logs.stream(logs.open_log(engine.store.log_path(c.id)), opts,
                                         lambda: c.state.running),
                             media_type=media)


def attach_stream(engine: Engine, c: Container, q: Mapping[str, str]) -> AsyncIterator[bytes]:
    """The output, until the container exits; with logs=1 what it wrote before too.
    (Stdin needs the hijacked connection: see daemon/attach.py.)"""
    opts = log_options(q, c)
    opts.follow = qbool(q, "stream")

    def running() -> bool:
        return c.state.running or (c.state.status == "created" and c.id in engine.store.by_id)

    return logs.stream(logs.open_log(engine.store.log_path(c.id)), opts, running,
                       from_end=not qbool(q, "logs"))


@router.post("/containers/{ref}/attach")
async def attach(ref: str, request: Request) -> StreamingResponse:
    """Without `Upgrade: tcp` (which protocol.py hijacks): a plain streamed body."""
    engine = _engine(request)
    c = engine.store.get(ref)
    media = logs.RAW if c.config.get("Tty") else logs.MULTIPLEXED
    return StreamingResponse(attach_stream(engine, c, request.query_params), media_type=media)


_ATTACH = re.compile(r"^(?:/v\d+\.\d+)?/containers/([^/]+)/attach$")


def hijacker(engine: Engine, gid: int) -> Hijacker:
    """Serves `docker attach` / `docker run` (foreground) on a hijacked connection;
    anything it declines (wrong path, no such container, not allowed) takes the normal
    HTTP path and gets its normal error answer."""

    def hijack(peer: Peer | None, method: str, path: str, query: str,
               write: Callable[[bytes], None]) -> AttachSession | None:
        m = _ATTACH.match(path)
        if method != "POST" or m is None or (peer is not None and not access.allowed(peer, gid)):
            return None
        try:
            c = engine.store.get(unquote(m.group(1)))
        except ApiError:
            return None
        log.debug("Calling %s %s%s: 101 (connection hijacked)", method, path, "?" + query if query else "")
        q = dict(parse_qsl(query, keep_blank_values=True))
        return AttachSession(engine, c, q, attach_stream, write)

    return hijack


@router.post("/containers/{ref}/resize")
async def resize(ref: str, request: Request) -> Response:
    """The tty's size, as the CLI sends it at start and on SIGWINCH."""
    engine = _engine(request)
    c = engine.store.get(ref)
    height, width = qint(request.query_params, "h", 0), qint(request.query_params, "w", 0)
    if height is None or width is None or not (0 <= height < 65536 and 0 <= width < 65536):
        raise bad_request("invalid resize: h and w must be integers from 0 to 65535")
    await engine.resize(c, height, width)
    return Response(status_code=200)


@router.get("/containers/{ref}/top")
async def top(ref: str, request: Request) -> JSONResponse:
    engine = _engine(request)
    ps_args = request.query_params.get("ps_args", "")
    ps.validate(ps_args)
    c = engine.store.get(ref)
    if not c.state.running:
        raise ApiError(409, f"Container {c.id} is not running")
    found = await ps.top(ps_args, await engine.pids(c))
    return JSONResponse({"Titles": found.titles, "Processes": found.processes})


@router.delete("/containers/{ref}", status_code=204)
async def remove(ref: str, request: Request) -> Response:
    engine = _engine(request)
    await engine.remove(engine.store.get(ref), qbool(request.query_params, "force"))
    return Response(status_code=204)

