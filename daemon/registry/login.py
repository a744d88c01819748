"""POST /auth: docker login's check of credentials, made by berth-containerd on the
registry (never a mirror). The body is docker's AuthConfig; the answer dockerd's
{"IdentityToken", "Status": "Login Succeeded"}; refused credentials are a 401 with the
registry's words ("login attempt to URL failed with status: 401 Unauthorized",
or the token service's "unauthorized: incorrect username or password")."""

from __future__ import annotations

import base64
import binascii
import json

from ..containers.service import Engine
from ..http.errors import bad_request
from ..libcontainerd import RegistryAuth


def auth_config(body: bytes) -> tuple[str, RegistryAuth]:
    """(serveraddress, credentials) from docker's AuthConfig JSON."""
    try:
        cfg = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as e:
        raise bad_request(f"invalid JSON in request body: {e}") from None
    if not isinstance(cfg, dict):
        raise bad_request("invalid request body: an AuthConfig object is expected")
    text = {k.lower(): v for k, v in cfg.items() if isinstance(v, str)}
    username, password = text.get("username", ""), text.get("password", "")
    if not username and text.get("auth"):
        try:
            username, _, password = base64.b64decode(text["auth"]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise bad_request("invalid auth configuration: the auth field is not base64 of USER:PASSWORD") from None
    return text.get("serveraddress", ""), RegistryAuth(
        username=username, password=password, identity_token=text.get("identitytoken", ""),
        registry_token=text.get("registrytoken", ""))


async def login(engine: Engine, body: bytes) -> dict:
    server, auth = auth_config(body)
    token = await engine.ctrd.login(server, auth, list(engine.config.insecure_registries))
    return {"IdentityToken": token, "Status": "Login Succeeded"}
