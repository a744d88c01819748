"""/containers/...: create, list, inspect, start, stop, kill, wait, resize, top, delete.
(logs and attach: container_streams.py.)

Every query parameter is declared (names, types and codes from Docker's swagger, API
v1.45), so /openapi.json describes the API; the few docker declares that berth does not
use (v, link, detachKeys, platform) are accepted and ignored, as they change
nothing berth can do.
"""

from __future__ import annotations

from typing import Annotated, AsyncIterator

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from ..containers import hostfields, listing, sizes, views
from ..containers import kill as kill_api
from ..containers import top as ps
from ..containers.process import parse_signal
from ..containers.service import Engine
from ..http.errors import ApiError, bad_request
from ..http.params import Bool, Int, parse_filters
from ..network import views as netviews
from .container_streams import hijacker  # noqa: F401 - main.py takes it from here
from .models import ContainerCreate, CreateResponse, WaitResponse, errors

router = APIRouter(tags=["Container"])

ContainerId = Annotated[str, Path(alias="id", description="ID or name of the container")]
_IGNORED = "Accepted for compatibility; berth does not use it."
_WAIT_CONDITIONS = ["not-running", "next-exit", "removed"]


def _engine(request: Request) -> Engine:
    return request.app.state.engine


@router.post("/containers/create", status_code=201, response_model=CreateResponse,
             responses=errors({400: "bad parameter", 404: "no such image", 409: "conflict",
                               500: "server error"}))
async def create(body: ContainerCreate, request: Request,
                 name: Annotated[str, Query(
                     description="Assign the specified name to the container. "
                                 "Must match `/?[a-zA-Z0-9][a-zA-Z0-9_.-]+`.")] = "",
                 platform: Annotated[str, Query(description=_IGNORED)] = "") -> JSONResponse:
    engine = _engine(request)
    raw = body.model_dump()
    # None when absent: then HostConfig fields at the top level are the HostConfig (lifecycle.py)
    raw["HostConfig"] = body.HostConfig.model_dump() if body.HostConfig is not None else None
    warnings = hostfields.request_warnings(raw)  # before create takes the body apart
    c = await engine.create(name or None, raw)
    return JSONResponse({"Id": c.id, "Warnings": warnings}, status_code=201)


@router.get("/containers/json", responses=errors({400: "bad parameter", 500: "server error"}))
async def list_containers(
        request: Request,
        all: Annotated[Bool, Query(description="Return all containers. By default, only running "
                                               "containers are shown.")] = False,
        limit: Annotated[Int, Query(description="Return this number of most recently created "
                                                "containers, including non-running ones.")] = None,
        size: Annotated[Bool, Query(description="Return the size of container as fields `SizeRw` "
                                                "and `SizeRootFs`.")] = False,
        filters: Annotated[str, Query(
            description='Filters, encoded as JSON (a `map[string][]string`), e.g. '
                        '`{"status": ["exited"]}`: ancestor, before, exited, expose, health, id, label, '
                        'name, network, publish, since, status, volume.')] = "",
) -> JSONResponse:
    engine = _engine(request)
    wanted = parse_filters(filters)
    refs = listing.check(wanted, engine.store)  # dockerd's filters: containers/listing.py
    limit = limit or -1
    show_all = all or limit > 0 or "status" in wanted or "exited" in wanted
    out = []
    for c in engine.store.all():
        if not show_all and not (c.state.running or c.state.status == "restarting"):
            continue
        nets = netviews.summary_networks(engine.networks, c.id, c.state.running)
        on = {*nets, *(n.get("NetworkID", "") for n in nets.values() if isinstance(n, dict))} - {""}
        ports = netviews.summary_ports(engine.networks, c.id, c.state.running)
        if listing.matches(c, wanted, refs, on or None, ports):
            item = views.summary(c)
            item["Ports"] = ports
            item["NetworkSettings"]["Networks"] = nets
            item["Mounts"] = engine.volumes.mounts_view(c.id)  # compose v2 compares them with its volumes
            out.append((c, item))
        if 0 < limit <= len(out):
            break
    if size:  # SizeRw, SizeRootFs: containers/sizes.py
        measured = await sizes.sizes(engine, [c for c, _ in out])
        for c, item in out:
            sizes.add_sizes(item, measured[c.id], omit_zero=True)
    return JSONResponse([item for _, item in out])


@router.get("/containers/{id}/json", responses=errors({404: "no such container", 500: "server error"}))
async def inspect(ref: ContainerId, request: Request,
                  size: Annotated[Bool, Query(description="Return the size of container as fields "
                                                          "`SizeRw` and `SizeRootFs`")] = False) -> JSONResponse:
    engine = _engine(request)
    c = engine.store.get(ref)
    shown = views.inspect(c, engine.store, c.config.get("Image", ""))
    shown["GraphDriver"] = views.graph_driver(engine.config, c.id)
    shown["NetworkSettings"] = netviews.settings(engine.networks, c.id, c.state.running)
    shown["Mounts"] = engine.volumes.mounts_view(c.id)
    if size:
        sizes.add_sizes(shown, (await sizes.sizes(engine, [c]))[c.id], omit_zero=False)
    return JSONResponse(shown)


@router.post("/containers/{id}/start", status_code=204,
             responses={304: {"description": "container already started"},
                        **errors({400: "the command cannot be run", 404: "no such container",
                                  409: "container is marked for removal", 500: "server error"})})
async def start(ref: ContainerId, request: Request,
                detachKeys: Annotated[str, Query(description=_IGNORED)] = "") -> Response:
    engine = _engine(request)
    started = await engine.start(engine.store.get(ref))
    return Response(status_code=204 if started else 304)


@router.post("/containers/{id}/stop", status_code=204,
             responses={304: {"description": "container already stopped"},
                        **errors({400: "bad parameter", 404: "no such container", 500: "server error"})})
async def stop(ref: ContainerId, request: Request,
               signal: Annotated[str, Query(
                   description="Signal to send to the container as an integer or string "
                               "(e.g. `SIGINT`); the container's StopSignal by default.")] = "",
               t: Annotated[Int, Query(description="Number of seconds to wait before killing "
                                                   "the container")] = None) -> Response:
    engine = _engine(request)
    c = engine.store.get(ref)
    stopped = await engine.stop(c, t, parse_signal(signal) if signal else None)
    return Response(status_code=204 if stopped else 304)


@router.post("/containers/{id}/kill", status_code=204,
             responses=errors({400: "bad parameter", 404: "no such container",
                               409: "container is not running", 500: "server error"}))
async def kill(ref: ContainerId, request: Request,
               signal: Annotated[str, Query(
                   description="Signal to send to the container as an integer or string (e.g. "
                               "`SIGINT`). With SIGKILL the answer comes once the container "
                               "has stopped.")] = "SIGKILL") -> Response:
    engine = _engine(request)
    sig = parse_signal(signal)  # refused before the container is looked up, as dockerd does
    await kill_api.kill_and_wait(engine, engine.store.get(ref), sig)
    return Response(status_code=204)


@router.post("/containers/{id}/wait", response_model=WaitResponse,
             responses=errors({400: "bad parameter", 404: "no such container", 500: "server error"}))
async def wait(ref: ContainerId, request: Request,
               condition: Annotated[str, Query(
                   description="Wait until a container state reaches the given condition. "
                               "Defaults to `not-running` if omitted or empty.",
                   json_schema_extra={"enum": _WAIT_CONDITIONS})] = "not-running") -> StreamingResponse:
    """Headers go out at once (the CLI starts the container after they arrive), the
    body when the condition is met, as docker does."""
    engine = _engine(request)
    c = engine.store.get(ref)
    condition = condition or "not-running"
    if condition not in _WAIT_CONDITIONS:
        raise bad_request(f"invalid condition: {condition!r}")
    waiting = engine.wait(c, condition)

    async def body() -> AsyncIterator[bytes]:
        code = await waiting
        yield f'{{"StatusCode":{code}}}\n'.encode()

    return StreamingResponse(body(), media_type="application/json")


@router.post("/containers/{id}/resize",
             responses={200: {"description": "no error"},
                        **errors({400: "bad parameter", 404: "no such container",
                                  409: "container is not running", 500: "cannot resize container"})})
async def resize(ref: ContainerId, request: Request,
                 h: Annotated[Int, Query(description="Height of the TTY session in characters")] = None,
                 w: Annotated[Int, Query(description="Width of the TTY session in characters")] = None,
                 ) -> Response:
    """The tty's size, as the CLI sends it at start and on SIGWINCH."""
    engine = _engine(request)
    c = engine.store.get(ref)
    height, width = h or 0, w or 0
    if not (0 <= height < 65536 and 0 <= width < 65536):
        raise bad_request("invalid resize: h and w must be integers from 0 to 65535")
    await engine.resize(c, height, width)
    return Response(status_code=200)


@router.get("/containers/{id}/top",
            responses=errors({404: "no such container", 409: "container is not running",
                              500: "ps failed, or its output has no PID column"}))
async def top(ref: ContainerId, request: Request,
              ps_args: Annotated[str, Query(description="The arguments to pass to `ps`. "
                                                        "For example, `aux`")] = ps.DEFAULT_ARGS,
              ) -> JSONResponse:
    engine = _engine(request)
    ps.validate(ps_args)
    c = engine.store.get(ref)
    if not c.state.running:
        raise ApiError(409, f"Container {c.id} is not running")
    found = await ps.top(ps_args, await engine.pids(c))
    return JSONResponse({"Titles": found.titles, "Processes": found.processes})


@router.delete("/containers/{id}", status_code=204,
               responses=errors({400: "bad parameter", 404: "no such container", 409: "conflict",
                                 500: "server error"}))
async def remove(ref: ContainerId, request: Request,
                 v: Annotated[Bool, Query(description="Remove anonymous volumes associated with the "
                                                      "container.")] = False,
                 force: Annotated[Bool, Query(description="If the container is running, kill it "
                                                          "before removing it.")] = False,
                 link: Annotated[Bool, Query(description=_IGNORED)] = False) -> Response:
    engine = _engine(request)
    c = engine.store.get(ref)
    anonymous = engine.volumes.anonymous_of(c.id) if v else []
    await engine.remove(c, force)
    engine.volumes.remove_unused(anonymous)  # rm -v
    return Response(status_code=204)
