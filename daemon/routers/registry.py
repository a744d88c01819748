"""POST /auth (docker login) and GET /distribution/{name}/json (a remote image's
descriptor and platforms): daemon/registry/, over berth-containerd's remotes/."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request

from ..registry import distribution, login
from .models import errors

router = APIRouter()
_AUTH_BODY = {"requestBody": {"required": False, "description": "Authentication to check (docker's AuthConfig)",
                              "content": {"application/json": {"schema": {"type": "object", "properties": {
                                  "username": {"type": "string"}, "password": {"type": "string"},
                                  "email": {"type": "string"}, "serveraddress": {"type": "string"},
                                  "identitytoken": {"type": "string"}, "registrytoken": {"type": "string"}}}}}}}


@router.post("/auth", tags=["System"], openapi_extra=_AUTH_BODY,
             responses=errors({400: "bad parameter", 401: "auth error", 500: "server error"}))
async def check_auth(request: Request) -> dict:
    """Validate credentials for a registry and, if available, get an identity token for it."""
    return await login.login(request.app.state.engine, await request.body())


@router.get("/distribution/{name:path}/json", tags=["Distribution"],
            responses=errors({400: "bad parameter", 401: "Failed authentication or no image found",
                              404: "manifest unknown", 500: "Server error"}))
async def distribution_inspect(
        request: Request,
        name: Annotated[str, Path(description="Image name or id")],
        x_registry_auth: Annotated[str, Header(alias="X-Registry-Auth",
                                               description="A base64url-encoded auth configuration")] = "",
) -> dict:
    """Return image digest and platform information by contacting the registry."""
    return await distribution.inspect(request.app.state.engine, name, request.headers)
