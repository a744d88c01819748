"""Debian's docker-registry on 127.0.0.1, and a small proxy in front of it that counts
blob downloads and can break them (a wrong byte, a cut-off body, a stall)."""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field

import httpx

REGISTRY = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server(http.server.ThreadingHTTPServer):
    """Its server_close ends the keep-alive connections clients still hold open, then
    joins each handler thread (socketserver's block_on_close)."""

    daemon_threads = False

    def __init__(self, *args: object) -> None:
        self._open: set[socket.socket] = set()
        super().__init__(*args)

    def process_request(self, request: socket.socket, client_address: object) -> None:
        self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        self._open.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        for sock in list(self._open):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        super().server_close()


@dataclass
class Registry:
    htpasswd: str = ""          # path of an htpasswd file: basic auth on
    token: dict | None = None   # {"realm", "service", "issuer", "rootcertbundle"}: token auth on
    port: int = 0
    root: str = ""
    proc: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.root = tempfile.mkdtemp(prefix="berth-registry-")
        self.port = free_port()
        auth = ""
        if self.htpasswd:
            auth = f"auth:\n  htpasswd:\n    realm: berth-test\n    path: {self.htpasswd}\n"
        elif self.token:
            auth = "auth:\n  token:\n" + "".join(f"    {k}: {v}\n" for k, v in self.token.items())
        config = os.path.join(self.root, "config.yml")
        with open(config, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {self.root}/data\n"
                    f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{self.port}\n{auth}")
        with open(os.path.join(self.root, "registry.log"), "ab") as log:
            self.proc = subprocess.Popen([REGISTRY, "serve", config], stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "docker-registry exited:\n" + self.log()
            try:
                httpx.get(f"http://{self.host}/v2/", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not answer:\n" + self.log())

    def log(self) -> str:
        with open(os.path.join(self.root, "registry.log"), errors="replace") as f:
            return f.read()[-3000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Proxy:
    """http://127.0.0.1:PORT → the registry; per blob digest: count GETs, or break them."""

    upstream: str
    port: int = 0
    blob_gets: dict[str, int] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)     # flip a byte of these blobs
    truncate: set[str] = field(default_factory=set)    # send half, then close
    hold: dict[str, threading.Event] = field(default_factory=dict)  # first GET: half, wait for the event, the rest
    held: threading.Event = field(default_factory=threading.Event)  # set once a hold began
    # a token service of our own in front of the open registry: the bearer flow end to end
    bearer: bool = False
    users: dict[str, str] = field(default_factory=dict)     # user -> password the token service wants
    refresh_tokens: set[str] = field(default_factory=set)   # identity tokens it takes (grant_type=refresh_token)
    give_refresh_tokens: bool = False  # answer offline_token=true with a refresh_token (docker login's identity token)
    token_requests: list[dict] = field(default_factory=list)
    uploads: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of each write forwarded
    fail_patch: int = 0   # the Nth PATCH from now (1 = the next) is answered 500, once
    seen: list[tuple[str, str]] = field(default_factory=list)     # (method, path) of every request forwarded
    _tokens: dict[str, set[str]] = field(default_factory=dict)  # token -> the scopes it was asked for
    _server: _Server | None = None
    _serving: threading.Thread | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._forward("HEAD")

            def do_GET(self) -> None:
                if self.path.startswith("/token"):
                    self._token(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                    return
                self._forward("GET")

            def do_POST(self) -> None:
                if self.path.startswith("/v2/"):
                    self._forward("POST")
                    return
                size = int(self.headers.get("Content-Length") or 0)
                self._token(urllib.parse.parse_qsl(self.rfile.read(size).decode()))

            def do_PUT(self) -> None:
                self._forward("PUT")

            def do_PATCH(self) -> None:
                self._forward("PATCH")

            def _body(self) -> bytes:
                """The request's body (uploads), whether sized or chunked."""
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        n = int(self.rfile.readline().strip() or b"0", 16)
                        if not n:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(n)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":  # a HEAD answer has no body, whatever its length says
                    self.wfile.write(body)

            def _token(self, pairs: list[tuple[str, str]]) -> None:
                form = dict(pairs)
                scopes = {s for k, v in pairs if k == "scope" for s in v.split()}
                proxy.token_requests.append({**form, "scopes": sorted(scopes),
                                             "authorization": self.headers.get("Authorization", "")})
                ok = not proxy.users and not proxy.refresh_tokens
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    ok = proxy.users.get(user) == password
                if form.get("grant_type") == "refresh_token":
                    ok = form.get("refresh_token") in proxy.refresh_tokens
                if not ok:
                    self._answer(401, b'{"details":"incorrect username or password"}')
                    return
                token = uuid.uuid4().hex
                proxy._tokens[token] = scopes
                answer = {"token": token}
                if proxy.give_refresh_tokens and form.get("offline_token") == "true":
                    answer["refresh_token"] = "refresh-" + uuid.uuid4().hex
                    proxy.refresh_tokens.add(answer["refresh_token"])
                self._answer(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

            def _challenged(self) -> bool:
                if not proxy.bearer or not self.path.startswith("/v2/"):
                    return False
                auth = self.headers.get("Authorization", "")
                if self.path.split("?")[0] == "/v2/" and auth[7:] in proxy._tokens:
                    return False  # the API root takes any token the service gave (a login's check)
                repo = self.path[4:].split("/manifests/")[0].split("/blobs/")[0].split("/tags/")[0]
                actions = "pull" if self.command in ("GET", "HEAD") else "pull,push"
                granted = proxy._tokens.get(auth[7:], set()) if auth.startswith("Bearer ") else set()
                for scope in granted:  # a token lets in what its scopes name: pull, or push too
                    kind, _, rest = scope.partition(":")
                    name, _, allowed = rest.rpartition(":")
                    if kind == "repository" and name == repo and set(actions.split(",")) <= set(allowed.split(",")):
                        return False
                realm = (f'Bearer realm="http://{proxy.host}/token",service="berth-test",'
                         f'scope="repository:{repo}:{actions}"')
                body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
                self._answer(401, body, {"WWW-Authenticate": realm, "Content-Type": "application/json"})
                return True

            def _forward(self, method: str) -> None:
                sent = self._body() if method in ("POST", "PUT", "PATCH") else None
                if self._challenged():
                    return
                proxy.seen.append((method, self.path.split("?")[0]))
                if method == "PATCH" and proxy.fail_patch:
                    proxy.fail_patch -= 1
                    if not proxy.fail_patch:
                        self._answer(500, b'{"errors":[{"code":"UNKNOWN","message":"unknown error"}]}',
                                     {"Content-Type": "application/json"})
                        return
                if method in ("POST", "PUT", "PATCH"):
                    proxy.uploads.append((method, self.path.split("?")[0]))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "transfer-encoding", "content-length")}
                headers["Host"] = proxy.host  # the registry builds its Location URLs from it
                with httpx.stream(method, f"http://{proxy.upstream}{self.path}", headers=headers,
                                  content=sent, timeout=60) as resp:
                    body = resp.read()
                digest = self.path.rsplit("/", 1)[-1] if "/blobs/" in self.path else ""
                if digest and method == "GET" and resp.status_code == 200:
                    proxy.blob_gets[digest] = proxy.blob_gets.get(digest, 0) + 1
                    if digest in proxy.corrupt:
                        body = bytes([body[0] ^ 0xFF]) + body[1:]
                self.send_response(resp.status_code)
                for k, v in resp.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if method == "HEAD":
                    return
                if digest in proxy.truncate:
                    self.wfile.write(body[:len(body) // 2])
                    self.close_connection = True
                    return
                release = proxy.hold.pop(digest, None) if method == "GET" else None
                if release is not None:
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    proxy.held.set()
                    release.wait(120)
                    try:
                        self.wfile.write(body[len(body) // 2:])
                    except OSError:
                        self.close_connection = True  # the puller is gone (killed)
                    return
                self.wfile.write(body)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._serving = threading.Thread(target=self._server.serve_forever)
        self._serving.start()

    def stop(self) -> None:
        """Ends every thread it started: a test package that forks later (berth.runc
        does) must not inherit threads frozen in the middle of a request."""
        for ev in self.hold.values():
            ev.set()
        if self._server is not None:
            self._server.shutdown()
            self._serving.join()
            self._server.server_close()

    def __enter__(self) -> Proxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
