"""The FastAPI app: routers, Docker-shaped error bodies, startup and shutdown."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from berth.common.sdnotify import notify

from .config import API_VERSION
from .containers.service import Engine
from .http.errors import ApiError
from .http.requestlog import CatchUnexpected
from .images import builtin
from .libcontainerd.supervisor import ManagedContainerd
from .routers import (container_lifecycle, container_ops, container_resources, container_streams, containers,
                      events, image_archive, images, networks, system, volumes)
from .routers import build as build_router  # issue 10
from .routers import exec as exec_router
from .routers import registry as registry_router

log = logging.getLogger("berthd")


def _validation_message(exc: RequestValidationError) -> str:
    """What was wrong, where: a query parameter by name and value, a body field by its path."""
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return f"invalid JSON in request body: {err.get('ctx', {}).get('error', err.get('msg'))}"
        loc = [str(p) for p in err.get("loc", ())]
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        if len(loc) == 2 and loc[0] in ("query", "header", "path"):
            parts.append(f"invalid value for {loc[1]}: {err.get('input')!r}: {msg}")
        else:
            where = ".".join(p for p in loc if p != "body")
            parts.append(f"invalid request: {where or 'body'}: {msg}")
    return "; ".join(parts)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document without its 422s: berthd answers a request it cannot read with
    docker's 400, and each route declares that itself."""
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version, description=app.description,
                          routes=app.routes)
        for path_item in doc.get("paths", {}).values():
            for operation in path_item.values():
                operation.get("responses", {}).pop("422", None)
        schemas = doc.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        app.openapi_schema = doc
    return app.openapi_schema


def build(engine: Engine, managed: ManagedContainerd | None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await engine.ctrd.ready(60)
        await builtin.ensure_builtin(engine.ctrd)
        await engine.restore()
        log.info("berthd ready")
        notify("READY=1")  # systemd's Type=notify (common/sdnotify.py)
        yield
        notify("STOPPING=1")
        await engine.close()
        await engine.ctrd.close()
        if managed is not None:
            await managed.stop()

    app = FastAPI(title="berth Engine API", version=API_VERSION, lifespan=lifespan,
                  description="The Docker Engine API as served by berthd.")
    app.state.engine = engine
    # Routes are matched in this order, each tried in turn (~5 us apiece): the ones every
    # `docker exec` and `docker run` calls come first (no two routers share a path)
    for module in (system, exec_router, containers, image_archive, images, container_streams, container_resources,
                   events, networks, container_ops, container_lifecycle, build_router, registry_router, volumes):
        app.include_router(module.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(CatchUnexpected)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.message, exc_info=exc)
        return JSONResponse({"message": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"message": _validation_message(exc)}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "page not found" if exc.status_code in (404, 405) else str(exc.detail)
        return JSONResponse({"message": message}, status_code=exc.status_code)

    return app
