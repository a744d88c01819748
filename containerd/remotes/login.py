"""docker login's check, as dockerd's loginV2 makes it: GET /v2/ without credentials,
then answer its challenge once. A Basic challenge is retried with the password; a
Bearer one asks the realm for a token (the password as Basic auth, or the identity
token as an OAuth refresh grant), with offline_token=true so that a token service
that gives refresh tokens returns one: that is the IdentityToken docker stores.
A registry that answers the ping with 200 takes any credentials, as with dockerd.
"""

from __future__ import annotations

import base64
from http import HTTPStatus
from urllib.parse import urlsplit

from berth.common import lazy

from .auth import Credentials, parse_challenge
from .hosts import Hosts, base_url, endpoint
from .registry import TransportError, _reason

httpx = lazy.module("httpx")  # loaded by the first registry request: an idle berth-containerd holds none of it

DOCKER_HUB = "index.docker.io"


class LoginRefused(Exception):
    """The registry or its token service refused the credentials (berthd: 401)."""


def server_host(server: str) -> str:
    """docker's serveraddress as a host[:port]: a URL's host, or the name as given; Docker Hub when ""."""
    if not server:
        return DOCKER_HUB
    if "://" not in server:
        server = "https://" + server
    host = urlsplit(server).netloc
    if not host:
        raise ValueError(f"unable to parse server address: {server}")
    return host


def login(hosts: Hosts, server: str, creds: Credentials) -> str:
    """Checks the credentials on the registry; returns the identity token it gave, or ""."""
    base, client = base_url(hosts, endpoint(server_host(server)))
    url = base + "/v2/"
    ping = _get(client, url, {})
    if ping.status_code != 401:
        return _done(ping, url, "")
    scheme, params = parse_challenge(ping.headers.get("WWW-Authenticate", ""))
    if scheme == "bearer" and params.get("realm"):
        token, refresh = _token(client, url, params, creds)
        return _done(_get(client, url, {"Authorization": "Bearer " + token}), url, refresh)
    if scheme == "basic":
        raw = f"{creds.username}:{creds.password}".encode()
        return _done(_get(client, url, {"Authorization": "Basic " + base64.b64encode(raw).decode()}), url, "")
    return _done(ping, url, "")


def _get(client: httpx.Client, url: str, headers: dict[str, str]) -> httpx.Response:
    try:
        return client.get(url, headers=headers, timeout=15.0)
    except httpx.HTTPError as e:
        raise TransportError(f'Get "{url}": {_reason(e)}') from None


def _done(resp: httpx.Response, url: str, refresh: str) -> str:
    if resp.status_code == 200:
        return refresh
    text = f"login attempt to {url} failed with status: {resp.status_code} {_phrase(resp.status_code)}"
    raise LoginRefused(text) if resp.status_code == 401 else TransportError(text)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _token(client: httpx.Client, url: str, params: dict[str, str], creds: Credentials) -> tuple[str, str]:
    """(access token, refresh token or "") from the challenge's realm, for no scope at all."""
    realm, service = params["realm"], params.get("service", "")
    try:
        if creds.identity_token:
            resp = client.post(realm, data={"grant_type": "refresh_token", "refresh_token": creds.identity_token,
                                             "service": service, "client_id": "berth", "access_type": "offline"})
        else:
            query = {"service": service, "offline_token": "true", "client_id": "berth"} if service else {
                "offline_token": "true", "client_id": "berth"}
            auth = (creds.username, creds.password) if creds.username else None
            resp = client.get(realm, params=query, auth=auth)
    except httpx.HTTPError as e:
        raise TransportError(f'Get "{url}": {_reason(e)}') from None
    if resp.status_code in (401, 403):
        raise LoginRefused(f'Get "{url}": unauthorized: {_refusal(resp)}')
    if resp.status_code != 200:
        raise TransportError(f'Get "{url}": the token service {realm} answered {resp.status_code}')
    try:
        body = resp.json()
    except ValueError:
        body = None
    token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
    if not token:
        raise TransportError(f'Get "{url}": the token service {realm} answered with no token')
    return str(token), str(body.get("refresh_token") or creds.identity_token or "")


def _refusal(resp: httpx.Response) -> str:
    """What the token service said, where docker's client looks: Docker Hub's `details`,
    OAuth's `error_description`, or the first errcode message."""
    try:
        body = resp.json()
    except ValueError:
        return "authentication required"
    if isinstance(body, dict):
        if body.get("details"):
            return str(body["details"])
        if body.get("error_description"):
            return str(body["error_description"])
        errors = body.get("errors") or []
        if errors and isinstance(errors[0], dict) and errors[0].get("message"):
            return str(errors[0]["message"])
    return "authentication required"
