"""One repository on a registry, over the distribution spec's HTTP API (v2).

Manifests (OCI manifests and indexes, Docker schema2 manifests and lists) are read
whole (they are small and bounded); blobs are only ever streamed. Every request
goes through the repository's Authorizer, which answers the registry's 401
challenges. Errors keep the registry's own error code and message, which is what
docker's wording is built from (see images/pull_errors.py).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from berth.common import lazy

from berth.common.reference import Reference

from .auth import AuthError, Authorizer, Credentials
from .hosts import Hosts, base_url, endpoint, mirror_url
from .media import MANIFEST_TYPES

httpx = lazy.module("httpx")  # loaded by the first registry request: an idle berth-containerd holds none of it

MAX_MANIFEST = 4 << 20  # the same bound containerd puts on a manifest


class RegistryError(Exception):
    """What the registry answered: its HTTP status and the first error of its body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code          # MANIFEST_UNKNOWN, NAME_UNKNOWN, DENIED, UNAUTHORIZED, ...
        self.message = message

    def __str__(self) -> str:
        """docker's errcode text: "manifest unknown: manifest unknown"."""
        return f"{self.code.lower().replace('_', ' ')}: {self.message}" if self.code else self.message


class TransportError(Exception):
    """The registry could not be reached or the connection broke; str() says where."""


@dataclass
class Manifest:
    media_type: str
    digest: str
    body: bytes


# A request body, made anew for each try (a 401 answered means sending it again).
Body = Callable[[], "bytes | Iterable[bytes]"]


class Repository:
    """`ref`'s repository, with the caller's credentials, for the requests of one pull
    (actions "pull") or push ("pull,push")."""

    def __init__(self, hosts: Hosts, ref: Reference, creds: Credentials, actions: str = "pull",
                 mirror: str = "") -> None:
        self.ref = ref
        self.mirror = mirror  # a --registry-mirror URL serving this docker.io repository, or ""
        if mirror:
            self.host, self.base, self.client = mirror_url(hosts, mirror)
        else:
            self.host = endpoint(ref.domain)
            self.base, self.client = base_url(hosts, self.host)
        self.auth = Authorizer(self.client, creds, f"repository:{ref.path}:{actions}")

    def url(self, kind: str, ident: str) -> str:
        return f"{self.base}/v2/{self.ref.path}/{kind}/{ident}"

    def send(self, method: str, url: str, headers: dict[str, str], body: Body | None = None) -> httpx.Response:
        """A request whose answer is read whole (uploads, HEAD): the status is the caller's."""
        return self._send(method, url, headers, stream=False, body=body)

    def _send(self, method: str, url: str, headers: dict[str, str], stream: bool,
              body: Body | None = None) -> httpx.Response:
        """The request, again after answering a 401 challenge; redirects (a blob on a CDN)
        are followed without our Authorization, which belongs to the registry only."""
        while True:
            sent = self.auth.header()
            req = self.client.build_request(method, url, headers={**headers, **sent},
                                            content=body() if body is not None else None)
            try:
                resp = self.client.send(req, stream=True)
            except httpx.HTTPError as e:
                raise TransportError(f'{method.title()} "{url}": {_reason(e)}') from None
            if resp.status_code == 401:
                resp.read()
                resp.close()
                try:
                    again = self.auth.challenge(resp, sent.get("Authorization", ""))
                except AuthError as e:
                    raise RegistryError(401, "UNAUTHORIZED", str(e)) from None
                if again:
                    continue
                if not sent and resp.headers.get("WWW-Authenticate", "").lower().startswith("basic"):
                    raise RegistryError(401, "", f'{method.title()} "{url}": no basic auth credentials')
                raise _error(resp, method, url)
            hops = 0
            while resp.is_redirect and hops < 5:
                resp.close()
                target = resp.headers.get("Location", "")
                url = str(resp.url.join(target))
                try:
                    resp = self.client.send(self.client.build_request(method, url, headers=headers), stream=True)
                except httpx.HTTPError as e:
                    raise TransportError(f'{method.title()} "{url}": {_reason(e)}') from None
                hops += 1
            if resp.status_code >= 400:
                resp.read()
                resp.close()
                raise _error(resp, method, url)
            if not stream:
                try:
                    resp.read()
                except httpx.HTTPError as e:
                    raise TransportError(f'{method.title()} "{url}": {_reason(e)}') from None
                finally:
                    resp.close()
            return resp

    def manifest(self, ident: str) -> Manifest:
        """GET a manifest by tag or digest; by digest, its bytes must hash to it."""
        resp = self._send("GET", self.url("manifests", ident), {"Accept": ", ".join(MANIFEST_TYPES)}, stream=False)
        body = resp.content
        if len(body) > MAX_MANIFEST:
            raise RegistryError(0, "", f"manifest {ident}: larger than {MAX_MANIFEST} bytes")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if ident.startswith("sha256:") and digest != ident:
            raise RegistryError(0, "", f"manifest verification failed for digest {ident}")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        return Manifest(media_type, digest, body)

    def tags(self) -> list[str]:
        """GET /v2/NAME/tags/list, following its Link pages (the distribution spec's `next`)."""
        url, tags = self.url("tags", "list"), []
        for _ in range(1000):  # a bound on the pages, not on the tags
            resp = self._send("GET", url, {"Accept": "application/json"}, stream=False)
            try:
                tags += [str(t) for t in (resp.json().get("tags") or [])]
            except (ValueError, AttributeError):
                raise RegistryError(0, "", f"{self.ref.name}: the tags list is not JSON") from None
            link = resp.headers.get("Link", "")
            if 'rel="next"' not in link or "<" not in link:
                break
            url = str(resp.url.join(link[link.index("<") + 1:link.index(">")]))
        return tags

    def blob_bytes(self, digest: str, limit: int = MAX_MANIFEST) -> bytes:
        """A small blob (an image config), read whole and checked against its digest."""
        with self.blob(digest) as resp:
            body = b""
            for piece in resp.iter_bytes():
                body += piece
                if len(body) > limit:
                    raise RegistryError(0, "", f"blob {digest}: larger than {limit} bytes")
        if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
            raise RegistryError(0, "", f"blob {digest}: digest mismatch")
        return body

    @contextlib.contextmanager
    def blob(self, digest: str, offset: int = 0) -> Iterator[httpx.Response]:
        """An open, streamed GET of a blob (from `offset`, when the registry honours Range)."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self._send("GET", self.url("blobs", digest), headers, stream=True)
        try:
            yield resp
        finally:
            resp.close()


def _error(resp: httpx.Response, method: str, url: str) -> RegistryError:
    try:
        errors = resp.json().get("errors") or []
        first = errors[0] if errors else {}
        code, message = str(first.get("code", "")), str(first.get("message", ""))
    except (ValueError, AttributeError, IndexError):
        code, message = "", ""
    if not code:  # a bodiless answer (HEAD): the distribution errcode's own message
        code, default = {401: ("UNAUTHORIZED", "authentication required"),
                         403: ("DENIED", "requested access to the resource is denied"),
                         404: ("NOT_FOUND", "not found")}.get(resp.status_code, ("", ""))
        message = message or default or f'{method.title()} "{url}": unexpected status {resp.status_code}'
    return RegistryError(resp.status_code, code, message)


def _reason(e: httpx.HTTPError) -> str:
    cause = e.__cause__ or e.__context__
    text = str(e) or type(e).__name__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return text
