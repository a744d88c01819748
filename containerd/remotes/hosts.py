"""Which URL and which TLS settings reach a registry, as dockerd decides them.

docker.io is served at registry-1.docker.io. Loopback registries and those berthd
names insecure (--insecure-registry: a host[:port] or a CIDR) are tried over HTTPS
without verification first, then over plain HTTP, as dockerd does; every other
registry is HTTPS only, verified against the system's CAs plus the registry's own
in CERTS_DIR/HOST[:PORT]/*.crt, with a client certificate from *.cert/*.key there.
One httpx client per base URL is shared by every pull (connection reuse).
"""

from __future__ import annotations

import glob
import ipaddress
import os
import ssl
import threading
from dataclasses import dataclass

from berth.common import lazy

httpx = lazy.module("httpx")  # loaded by the first registry request: an idle berth-containerd holds none of it

DEFAULT_CERTS_DIR = "/etc/berth/certs.d"
_DOCKER_HUB = {"docker.io": "registry-1.docker.io", "index.docker.io": "registry-1.docker.io"}

_clients: dict[tuple[str, bool], httpx.Client] = {}
_bases: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Hosts:
    insecure: tuple[str, ...] = ()
    certs_dir: str = DEFAULT_CERTS_DIR
    mirrors: tuple[str, ...] = ()  # berthd's --registry-mirror URLs, tried first for docker.io (mirrors.py)

    def is_insecure(self, host: str) -> bool:
        name = _hostname(host)
        if name == "localhost" or _in_net(name, "127.0.0.0/8") or _in_net(name, "::1/128"):
            return True
        for item in self.insecure:
            if item in (host, name):
                return True
            if "/" in item and _in_net(name, item):
                return True
        return False


def endpoint(domain: str) -> str:
    """The host[:port] that serves a reference's domain."""
    return _DOCKER_HUB.get(domain, domain)


def base_url(hosts: Hosts, host: str) -> tuple[str, httpx.Client]:
    """The registry's base URL (scheme://host) and the client to use for it."""
    if not hosts.is_insecure(host):
        return f"https://{host}", _client(hosts, host, verify=True)
    key = (host, hosts.certs_dir)
    with _lock:
        known = _bases.get(key)
    if known:
        return known, _client(hosts, host, verify=False)
    client = _client(hosts, host, verify=False)
    base = f"https://{host}"
    try:
        client.get(base + "/v2/", timeout=5.0)
    except httpx.HTTPError:
        base = f"http://{host}"  # an insecure registry that speaks no TLS at all
    with _lock:
        _bases[key] = base
    return base, client


def mirror_url(hosts: Hosts, url: str) -> tuple[str, str, httpx.Client]:
    """A mirror's host, base URL and client: its URL says the scheme (http:// is plain
    HTTP, as dockerd takes it); https:// is verified unless the host is insecure."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    verify = scheme == "https" and not hosts.is_insecure(host)
    return host, f"{scheme}://{host}", _client(hosts, host, verify=verify)


def _client(hosts: Hosts, host: str, verify: bool) -> httpx.Client:
    key = (f"{host}|{hosts.certs_dir}", verify)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = httpx.Client(
                verify=_ssl_context(hosts.certs_dir, host) if verify else False,
                timeout=httpx.Timeout(30.0, read=120.0),
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
                follow_redirects=False, headers={"User-Agent": "berth"})
        return client


def _ssl_context(certs_dir: str, host: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    d = os.path.join(certs_dir, host)
    for ca in sorted(glob.glob(os.path.join(d, "*.crt"))):
        ctx.load_verify_locations(ca)
    for cert in sorted(glob.glob(os.path.join(d, "*.cert"))):
        key = cert[:-len(".cert")] + ".key"
        if os.path.exists(key):
            ctx.load_cert_chain(cert, key)
    return ctx


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _in_net(name: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(name) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
