"""The FastAPI app: routers, Docker-shaped error bodies, startup and shutdown."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .config import API_VERSION
from .containers.service import Engine
from .http.errors import ApiError
from .http.requestlog import CatchUnexpected
from .images import builtin
from .libcontainerd.supervisor import ManagedContainerd
from .routers import containers, images, system

log = logging.getLogger("berthd")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return f"invalid JSON in request body: {err.get('ctx', {}).get('error', err.get('msg'))}"
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {err.get('msg')}")
    return "invalid request: " + "; ".join(parts)


def build(engine: Engine, managed: ManagedContainerd | None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await engine.ctrd.ready(60)
        await builtin.ensure_builtin(engine.ctrd)
        await engine.restore()
        log.info("berthd ready")
        yield
        await engine.close()
        await engine.ctrd.close()
        if managed is not None:
            await managed.stop()

    app = FastAPI(title="berth Engine API", version=API_VERSION, lifespan=lifespan,
                  description="The Docker Engine API as served by berthd.")
    app.state.engine = engine
    for module in (system, images, containers):
        app.include_router(module.router)
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
