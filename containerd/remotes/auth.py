"""Registry authentication: the challenge a 401 carries, basic auth, bearer tokens.

The distribution spec's flow: a request without credentials gets 401 with
`WWW-Authenticate: Bearer realm=...,service=...,scope=...` (or `Basic realm=...`);
the client answers a Basic challenge with the user's password, and a Bearer one by
asking the realm for a token (anonymously, or with the user's password or identity
token) and retrying with it. Credentials come per request from berthd (docker's
X-Registry-Auth); nothing here stores them.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass

from berth.common import lazy

httpx = lazy.module("httpx")  # loaded by the first registry request: an idle berth-containerd holds none of it


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""    # an OAuth refresh token from `docker login`
    registry_token: str = ""    # a bearer token to use as it is

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)


class AuthError(Exception):
    """The registry refused the credentials, or its token service failed."""


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="x",service="y"` → ("bearer", {"realm": "x", "service": "y"})."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " ,":
            i += 1
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip().lower()
        i = eq + 1
        if i < n and rest[i] == '"':
            value, i = _quoted(rest, i + 1)
        else:
            end = rest.find(",", i)
            end = n if end < 0 else end
            value, i = rest[i:end].strip(), end
        params[key] = value
    return scheme.lower(), params


def _quoted(text: str, i: int) -> tuple[str, int]:
    out = []
    while i < len(text) and text[i] != '"':
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out), i + 1


class Authorizer:
    """The Authorization header for one repository on one registry, kept for the
    pull's many requests (layers in parallel share it; a token is fetched once)."""

    def __init__(self, client: httpx.Client, creds: Credentials, scope: str) -> None:
        self._client = client
        self._creds = creds
        self._scope = scope
        self._header = "Bearer " + creds.registry_token if creds.registry_token else ""
        self._granted: set[str] = set()  # the scopes the current bearer token was asked for
        self._lock = threading.Lock()

    def header(self) -> dict[str, str]:
        return {"Authorization": self._header} if self._header else {}

    def challenge(self, resp: httpx.Response, sent: str) -> bool:
        """After a 401 to a request sent with Authorization `sent` ("" for none): True if
        it is worth retrying with the (new) header."""
        scheme, params = parse_challenge(resp.headers.get("WWW-Authenticate", ""))
        with self._lock:
            if self._header != sent:
                return True  # another request of this pull already answered the challenge
            if sent and scheme == "bearer" and params.get("realm") and not self._creds.registry_token:
                wanted = set(params.get("scope", "").split()) - self._granted
                if wanted:  # a push (or a mount) needs more than the token was given for
                    self._header = "Bearer " + self._token(params)
                    return True
            if sent:
                return False  # what we sent was refused: wrong password, or a refused token
            if scheme == "basic" and (self._creds.username or self._creds.password):
                raw = f"{self._creds.username}:{self._creds.password}".encode()
                self._header = "Basic " + base64.b64encode(raw).decode()
                return True
            if scheme == "bearer" and params.get("realm"):
                self._header = "Bearer " + self._token(params)
                return True
            return False

    def _token(self, params: dict[str, str]) -> str:
        """A token for every scope asked so far: this repository's, and the challenge's
        (several, space-separated, when a mount names the repository it comes from)."""
        scopes = sorted(self._granted | set(self._scope.split()) | set(params.get("scope", "").split()))
        scope = " ".join(scopes)
        query: dict[str, str | list[str]] = {"service": params.get("service", "")} if params.get("service") else {}
        if scopes:
            query["scope"] = scopes
        try:
            if self._creds.identity_token:
                resp = self._client.post(params["realm"], data={
                    "grant_type": "refresh_token", "refresh_token": self._creds.identity_token,
                    "service": params.get("service", ""), "scope": scope, "client_id": "berth"})
            else:
                auth = (self._creds.username, self._creds.password) if self._creds.username else None
                resp = self._client.get(params["realm"], params=query, auth=auth)
        except httpx.HTTPError as e:
            raise AuthError(f"fetching an auth token from {params['realm']}: {e}") from None
        if resp.status_code in (401, 403):
            raise AuthError("incorrect username or password")
        if resp.status_code != 200:
            raise AuthError(f"unexpected status from the token service {params['realm']}: {resp.status_code}")
        try:
            body = resp.json()
        except ValueError:
            raise AuthError(f"the token service {params['realm']} answered with no JSON") from None
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise AuthError(f"the token service {params['realm']} answered with no token")
        self._granted = set(scopes)
        return str(token)
