"""POST /build as docker's classic builder answers it: the query taken apart, the
context received and its Dockerfile parsed (errors so far are HTTP errors), then the
build's output as a JSON stream: {"stream": ...} lines, {"aux": {"ID": ...}}, and a
failure as {"errorDetail": ..., "error": ...}; tags applied only at the end."""

from __future__ import annotations

import asyncio
import json
import os
import posixpath
from typing import Any, AsyncIterator, Mapping

from fastapi.responses import StreamingResponse

from ..http.errors import ApiError, bad_request
from ..images import events as image_events
from ..images import progress
from ..libcontainerd import ContainerdError
from . import auth, context, dockerfile
from .cache import BuildCache
from .executor import Builder, Options
from .ignore import Matcher, read_patterns
from .steps import StepError

_TRUE = ("1", "true", "True")
_running: set[asyncio.Task] = set()  # builds still cleaning up after their answer
_NETWORKS = ("", "default", "bridge", "host", "none")


def _json_param(query: Mapping[str, str], name: str) -> dict[str, Any]:
    raw = query.get(name) or ""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise bad_request(f"invalid {name} parameter: {e}") from None
    if not isinstance(value, dict):
        raise bad_request(f"invalid {name} parameter: must be a JSON object")
    return value


def options(query: Any) -> tuple[Options, bool, str]:
    """(options, quiet, the Dockerfile's path in the context); refuses what berth cannot do."""
    if query.get("version") == "2":
        raise bad_request("BuildKit (version=2) is not supported by berth: use the classic builder "
                          "(DOCKER_BUILDKIT=0)")
    if query.get("remote"):
        raise bad_request(f"remote build contexts are not supported by berth: cannot fetch {query['remote']}; "
                          "send the context as the request body")
    if query.get("squash") in _TRUE:
        raise bad_request("squash is not supported by berth")
    for name in ("extrahosts", "outputs"):
        if query.get(name) not in (None, "", "[]", "null"):
            raise bad_request(f"{name} is not supported by berth's builder")
    if query.get("cachefrom") not in (None, "", "[]", "null"):
        raise bad_request("cachefrom is not supported by berth's builder (its cache is local)")
    for name in ("memory", "memswap", "cpushares", "cpuquota", "cpuperiod", "shmsize"):
        if query.get(name) not in (None, "", "0"):
            raise bad_request(f"{name} is not supported by berth's builder")
    for name in ("cpusetcpus", "cpusetmems", "cgroupparent", "isolation"):
        if query.get(name) not in (None, "", "default"):
            raise bad_request(f"{name} is not supported by berth's builder")
    if query.get("rm") is not None and query.get("rm") not in _TRUE:
        raise bad_request("rm=false is not supported by berth's builder: it always removes the intermediate "
                          "containers")
    network = query.get("networkmode") or ""
    if network not in _NETWORKS:
        raise bad_request(f"networkmode {network!r} is not supported by berth's builder")
    args = {k: (None if v is None else str(v)) for k, v in _json_param(query, "buildargs").items()}
    labels = {k: str(v) for k, v in _json_param(query, "labels").items()}
    opts = Options(tags=query.getlist("t"), buildargs=args, target=query.get("target") or "",
                   nocache=query.get("nocache") in _TRUE, pull=query.get("pull") in _TRUE, labels=labels,
                   platform=query.get("platform") or "", network=network, forcerm=query.get("forcerm") in _TRUE)
    from ..images.changes import import_name

    opts.tags = [import_name(t, "") for t in opts.tags]
    return opts, query.get("q") in _TRUE, query.get("dockerfile") or "Dockerfile"


def _dockerfile_rel(name: str) -> str:
    rel = posixpath.normpath(name.lstrip("/"))
    if rel.startswith(".."):
        raise bad_request(f"Forbidden path outside the build context: {name}")
    return rel


def _read_dockerfile(ctx: context.Context, name: str) -> str:
    rel = _dockerfile_rel(name)
    idx = ctx.index
    if rel not in idx.kept and name == "Dockerfile" and "dockerfile" in idx.kept:
        rel = "dockerfile"
    if rel in idx.kept:
        text = idx.kept[rel].decode("utf-8", errors="replace")
    else:  # not a plain file of the archive (a symlink, say): as the files on disk have it
        path = os.path.join(ctx.unpack(), rel)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise bad_request(f"Cannot locate specified Dockerfile: {name}") from None
    # dockerd's removeDockerfile: excluded by .dockerignore, they are read but not copied
    ignore = idx.kept.get(".dockerignore")
    if ignore is not None:
        matcher = Matcher(read_patterns(ignore.decode("utf-8", errors="replace")))
        for special in (rel, ".dockerignore"):
            if matcher.excluded(special):
                ctx.drop(special)
    return text


async def build(engine: Any, query: Any, body: AsyncIterator[bytes], registry_config: str = "") -> StreamingResponse:
    opts, quiet, name = options(query)
    opts.auths = auth.registry_config(registry_config)
    keep = frozenset({_dockerfile_rel(name), "dockerfile", ".dockerignore"})
    ctx = await context.receive(body, os.path.join(engine.config.data_root, "build", "tmp"), keep)
    try:
        text = await asyncio.to_thread(_read_dockerfile, ctx, name)
        try:
            df = dockerfile.parse(text)
        except dockerfile.ParseError as e:
            raise bad_request(str(e)) from None
    except BaseException:
        context.remove(ctx)
        raise
    out: asyncio.Queue[bytes | None] = asyncio.Queue()
    held: list[bytes] = []  # q=1: dockerd holds the output back, and sends it only before an error

    async def say(text: str) -> None:
        await emit({"stream": text})

    async def emit(message: dict[str, Any]) -> None:
        if quiet:
            held.append(progress.line(message))
        else:
            await out.put(progress.line(message))

    async def fail(line: bytes) -> None:
        for item in held:
            await out.put(item)
        await out.put(line)

    async def run() -> None:
        try:
            builder = Builder(engine, BuildCache(engine.config.data_root), opts, ctx, df, say)
            image_id = await builder.build()
            for tag in opts.tags:
                await engine.ctrd.tag_image(image_id, tag)
                image_events.tagged(engine.events, image_id, tag)
            await emit({"aux": {"ID": image_id}})
            await say(f"Successfully built {image_id[7:19]}\n")
            for tag in opts.tags:
                await say(f"Successfully tagged {tag}\n")
            if quiet:
                await out.put(progress.line({"stream": image_id + "\n"}))
        except StepError as e:
            detail: dict[str, Any] = {"message": str(e)}
            if e.code is not None:
                detail["code"] = e.code
            await fail(progress.line({"errorDetail": detail, "error": str(e)}))
        except (ApiError, ContainerdError, dockerfile.ParseError, ValueError) as e:
            msg = getattr(e, "message", None) or str(e)
            await fail(progress.error_line(msg))
        finally:
            await out.put(None)
            await asyncio.to_thread(context.remove, ctx)

    task = asyncio.get_running_loop().create_task(run())
    _running.add(task)
    task.add_done_callback(_running.discard)

    async def stream() -> AsyncIterator[bytes]:
        ended = False
        try:
            while (item := await out.get()) is not None:
                yield item
            ended = True  # the context's files go after the answer: the client need not wait
        finally:
            if not ended and not task.done():
                await task  # a client gone mid-build: the build still cleans up after itself

    return StreamingResponse(stream(), media_type="application/json")
