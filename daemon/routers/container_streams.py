"""/containers/{id}/logs and /containers/{id}/attach: the container's output as docker
streams it (stdcopy frames without a tty, raw bytes with one), and the hijacker that
serves attach on the connection itself (`Upgrade: tcp`, stdin in, output out)."""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import Annotated, AsyncIterator, Callable, Mapping
from urllib.parse import parse_qsl, unquote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse

from ..containers import pause
from ..containers.service import Engine
from ..containers.store import Container
from ..http import access, versioning
from ..http.access import Peer
from ..http.errors import ApiError, bad_request
from ..http.params import Bool, qbool
from ..http.protocol import Hijacked, Hijacker
from ..logs import drivers
from ..streams import detach, logs
from ..streams.attach import AttachSession
from ..streams.websocket import WebSocketSession
from .exec import exec_hijack
from .models import errors

router = APIRouter(tags=["Container"])
log = logging.getLogger("berthd.api")

ContainerId = Annotated[str, Path(alias="id", description="ID or name of the container")]
_STREAMS = {"content": {logs.MULTIPLEXED: {}, logs.RAW: {}}}
_TIME = ("a UNIX timestamp (seconds, with an optional fraction) or an RFC 3339 date; "
         "0 or empty: no limit")


def _options(c: Container, *, stdout: bool, stderr: bool, timestamps: bool = False,
             tail: str = "all", since: str = "", until: str = "", follow: bool = False) -> logs.LogOptions:
    if tail in ("", "all"):
        tail_n = None
    else:
        try:
            tail_n = max(int(tail), 0)
        except ValueError:
            tail_n = None  # docker treats an unparsable tail as "all"
    return logs.LogOptions(stdout=stdout, stderr=stderr, timestamps=timestamps, tail=tail_n,
                           since_ns=_time("since", since), until_ns=_time("until", until),
                           follow=follow, tty=bool(c.config.get("Tty")))


def _time(name: str, value: str) -> int:
    try:
        return logs.parse_time(value)
    except ValueError as e:
        raise bad_request(f"invalid value for {name}: {value!r}: {e}") from None


def log_options(q: Mapping[str, str], c: Container) -> logs.LogOptions:
    """The options of a query read by hand: the hijacked attach has no FastAPI route."""
    return _options(c, stdout=qbool(q, "stdout"), stderr=qbool(q, "stderr"),
                    timestamps=qbool(q, "timestamps"), tail=q.get("tail", "all"),
                    since=q.get("since", ""), until=q.get("until", ""), follow=qbool(q, "follow"))


@router.get("/containers/{id}/logs",
            responses={200: {"description": "the logs, as a stream", **_STREAMS},
                       **errors({400: "bad parameter", 404: "no such container", 500: "server error"})})
async def container_logs(
        ref: ContainerId, request: Request,
        follow: Annotated[Bool, Query(description="Keep connection after returning logs.")] = False,
        stdout: Annotated[Bool, Query(description="Return logs from `stdout`")] = False,
        stderr: Annotated[Bool, Query(description="Return logs from `stderr`")] = False,
        since: Annotated[str, Query(description="Only return logs since this time: " + _TIME)] = "",
        until: Annotated[str, Query(description="Only return logs before this time: " + _TIME)] = "",
        timestamps: Annotated[Bool, Query(description="Add timestamps to every log line")] = False,
        tail: Annotated[str, Query(description="Only return this number of log lines from the end "
                                               "of the logs: an integer or `all`")] = "all",
) -> StreamingResponse:
    engine: Engine = request.app.state.engine
    c = engine.store.get(ref)
    opts = _options(c, stdout=stdout, stderr=stderr, timestamps=timestamps, tail=tail,
                    since=since, until=until, follow=follow)
    if not opts.stdout and not opts.stderr:
        raise bad_request("Bad parameters: you must choose at least one stream")
    if not drivers.readable(c.host_config):
        raise ApiError(501, drivers.NOT_READABLE)
    media = logs.RAW if opts.tty else logs.MULTIPLEXED
    path = engine.store.log_path(c.id)
    *older, current = logs.open_rotated(path, drivers.max_file(c.host_config)) or [None]
    return StreamingResponse(logs.stream(current, opts, lambda: c.state.running, exited=engine.waiters(c.id).exited,
                                         older=older, path=path if drivers.rotates(c.host_config) else ""),
                             media_type=media)


def _output(engine: Engine, c: Container, opts: logs.LogOptions, replay: bool) -> AsyncIterator[bytes]:
    """The output, until the container exits; with `replay` (logs=1) what it wrote before too."""

    def running() -> bool:
        # A stopped container may be started again (`start -ai` attaches first): as
        # dockerd's, the attach lasts until its next exit, or until it is removed.
        return c.id in engine.store.by_id and c.state.status in ("created", "running", "exited")

    path = engine.store.log_path(c.id)
    return logs.stream(logs.open_log(path), opts, running, exited=engine.waiters(c.id).exited,
                       from_end=not replay, path=path if drivers.rotates(c.host_config) else "")


def attach_stream(engine: Engine, c: Container, q: Mapping[str, str], raw: bool = False) -> AsyncIterator[bytes]:
    """The hijacked attach's output (stdin needs the connection: see streams/attach.py);
    `raw`: never multiplexed, as dockerd's WebSocket attach."""
    opts = log_options(q, c)
    opts.follow = qbool(q, "stream")
    opts.tty = opts.tty or raw
    engine.events.container(c, "attach")
    return _output(engine, c, opts, qbool(q, "logs"))


@router.post("/containers/{id}/attach",
             responses={101: {"description": "no error, hints proxy about hijacking"},
                        200: {"description": "no error, no upgrade header found", **_STREAMS},
                        **errors({400: "bad parameter", 404: "no such container", 500: "server error"})})
async def attach(
        ref: ContainerId, request: Request,
        detachKeys: Annotated[str, Query(description="Override the key sequence for detaching a "
                                                     "container (with a tty): `ctrl-<value>` or a "
                                                     "character, comma-separated")] = "",
        logs_: Annotated[Bool, Query(alias="logs", description="Replay previous logs from the "
                                                                "container.")] = False,
        stream: Annotated[Bool, Query(description="Stream attached streams from the time the "
                                                  "request was made onwards.")] = False,
        stdin: Annotated[Bool, Query(description="Attach to `stdin` (needs the hijacked "
                                                 "connection: `Upgrade: tcp`)")] = False,
        stdout: Annotated[Bool, Query(description="Attach to `stdout`")] = False,
        stderr: Annotated[Bool, Query(description="Attach to `stderr`")] = False,
) -> StreamingResponse:
    """Without `Upgrade: tcp` (which the hijacker takes): a plain streamed body."""
    engine: Engine = request.app.state.engine
    c = engine.store.get(ref)
    pause.refuse_attach(c, ref)
    if not _valid_keys(detachKeys):
        raise bad_request(f"Invalid detach keys ({detachKeys}) provided")
    opts = _options(c, stdout=stdout, stderr=stderr, follow=stream)
    engine.events.container(c, "attach")
    media = logs.RAW if opts.tty else logs.MULTIPLEXED
    return StreamingResponse(_output(engine, c, opts, logs_), media_type=media)


@router.get("/containers/{id}/attach/ws",
            responses={101: {"description": "no error, hints proxy about hijacking"},
                       **errors({400: "bad parameter", 404: "no such container", 500: "server error"})})
async def attach_ws(
        ref: ContainerId, request: Request,
        detachKeys: Annotated[str, Query(description="Override the key sequence for detaching a "
                                                     "container (with a tty)")] = "",
        logs_: Annotated[Bool, Query(alias="logs", description="Return logs")] = False,
        stream: Annotated[Bool, Query(description="Return stream")] = False,
        stdin: Annotated[Bool, Query(description="Attach to `stdin`")] = False,
        stdout: Annotated[Bool, Query(description="Attach to `stdout`")] = False,
        stderr: Annotated[Bool, Query(description="Attach to `stderr`")] = False,
) -> None:
    """Reached only without a WebSocket upgrade (the hijacker serves those)."""
    engine: Engine = request.app.state.engine
    c = engine.store.get(ref)
    pause.refuse_attach(c, ref)
    if not _valid_keys(detachKeys):
        raise bad_request(f"Invalid detach keys ({detachKeys}) provided")
    raise bad_request("not a websocket request: send Upgrade: websocket")


def _valid_keys(spec: str) -> bool:
    try:
        detach.to_bytes(spec or detach.DEFAULT)
        return True
    except ValueError:
        return False


_ATTACH = re.compile(r"^(?:/v\d+\.\d+)?/containers/([^/]+)/attach(/ws)?$")


def hijacker(engine: Engine, gid: int) -> Hijacker:
    """Serves `docker attach` / `docker run` (foreground) on a hijacked connection;
    anything it declines (wrong path, no such container, not allowed) takes the normal
    HTTP path and gets its normal error answer."""

    def hijack(peer: Peer | None, method: str, path: str, query: str,
               write: Callable[[bytes], None]) -> Hijacked | None:
        m = _ATTACH.match(path)
        if (peer is not None and not access.allowed(peer, gid)) or method != ("GET" if m and m.group(2) else "POST"):
            return None
        if m is None:
            return exec_hijack(engine, method, path, query, write)
        try:
            c = engine.store.get(unquote(m.group(1)))
        except ApiError:
            return None
        q = dict(parse_qsl(query, keep_blank_values=True))
        if not _valid_keys(q.get("detachKeys", "")) or c.state.paused:
            return None  # the route answers it with docker's 400 (409 when paused)
        log.debug("Calling %s %s%s: 101 (connection hijacked)", method, path, "?" + query if query else "")
        if m.group(2):  # /attach/ws: the same session inside WebSocket frames, its output raw
            binary = versioning.at_least(path, "1.28")
            raw = partial(attach_stream, raw=True)
            return WebSocketSession(lambda send: AttachSession(engine, c, q, raw, send), write, binary)
        return AttachSession(engine, c, q, attach_stream, write)

    return hijack
