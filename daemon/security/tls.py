"""The API over TCP: served only with TLS and client-certificate verification.

Whoever can use the Engine API is root on the host (a --privileged container is enough),
so a TCP listener without verified client certificates would hand the host to anyone
who can reach the port. dockerd warns and carries on; berthd refuses to start, and says
why. With --tlsverify, a client must present a certificate signed by --tlscacert.
"""

from __future__ import annotations

import os
import socket
import ssl
from dataclasses import dataclass


@dataclass
class TLSSettings:
    address: str  # host:port of the tcp:// listener
    cacert: str
    cert: str
    key: str


REFUSED = ("-H {host}: berthd serves the API over TCP only with TLS and client-certificate "
           "verification (--tlsverify --tlscacert CA.pem --tlscert CERT.pem --tlskey KEY.pem): "
           "without it anyone who can reach the port controls every container and is root on this host")


def settings(host: str, tlsverify: bool, cacert: str | None, cert: str | None, key: str | None) -> TLSSettings:
    """Checked when berthd starts; ValueError with the reason when TCP would be unsafe."""
    address = host.removeprefix("tcp://").rstrip("/")
    if not tlsverify or not (cacert and cert and key):
        missing = [flag for flag, v in (("--tlsverify", tlsverify), ("--tlscacert", cacert),
                                        ("--tlscert", cert), ("--tlskey", key)) if not v]
        raise ValueError(REFUSED.format(host=host) + f" (missing: {' '.join(missing)})")
    for flag, path in (("--tlscacert", cacert), ("--tlscert", cert), ("--tlskey", key)):
        if not os.path.isfile(path):
            raise ValueError(f"{flag} {path}: no such file")
    _split(address)
    return TLSSettings(address, cacert, cert, key)


def _split(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"invalid tcp address {address!r}: want tcp://HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def context(t: TLSSettings) -> ssl.SSLContext:
    """TLS 1.2+, our certificate, and a client certificate signed by the CA required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(t.cert, t.key)
    ctx.load_verify_locations(t.cacert)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def listen_tcp(t: TLSSettings) -> socket.socket:
    host, port = _split(t.address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def subject_of(transport: object) -> str:
    """The verified client certificate's commonName, for the audit line ("" without TLS)."""
    get = getattr(transport, "get_extra_info", None)
    cert = get("peercert") if get else None
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return ""
