"""POST /auth: docker login's check of credentials, made by berth-containerd on the
registry (never a mirror). The body is docker's AuthConfig; the answer dockerd's
{"IdentityToken", "Status": "Login Succeeded"}; refused credentials are a 401 with the
registry's words ("login attempt to URL failed with status: 401 Unauthorized",
or the token service's "unauthorized: incorrect username or password")."""

from __future__ import annotations

import json

from ..containers.service import Engine
from ..http.errors import bad_request
from ..images import pull
from ..libcontainerd import RegistryAuth


def auth_config(body: bytes) -> tuple[str, RegistryAuth]:
    """(serveraddress, credentials) from docker's AuthConfig JSON."""
    try:
        cfg = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as e:
        raise bad_request(f"invalid JSON in request body: {e}") from None
    if not isinstance(cfg, dict):
        raise bad_request("invalid request body: an AuthConfig object is expected")
    try:
        auth = pull.auth_config(cfg, strict=True)
    except ValueError as e:
        raise bad_request(str(e)) from None
    server = next((v for k, v in cfg.items() if k.lower() == "serveraddress" and isinstance(v, str)), "")
    return server, auth


async def login(engine: Engine, body: bytes) -> dict:
    server, auth = auth_config(body)
    token = await engine.ctrd.login(server, auth, list(engine.config.insecure_registries))
    return {"IdentityToken": token, "Status": "Login Succeeded"}
