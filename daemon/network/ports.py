"""Published ports: docker's PortBindings parsed, host ports reserved.

The bytes of a published port never pass through berthd (nat.py DNATs them in the
kernel), but the host port is still held by a bound socket, as dockerd holds it:
another program (or another engine) cannot take a port a container publishes, and a
port already taken gives docker's "port is already allocated". A port asked as ""
or "0" gets a free one from the kernel's ephemeral range, as dockerd's does."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from ..http.errors import bad_request
from . import family
from .store import PortMap


def parse_key(key: str) -> tuple[int, str]:
    """"80/tcp" -> (80, "tcp")."""
    port, _, proto = key.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp"):
        raise bad_request(f"invalid proto: {proto}")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise bad_request(f"invalid containerPort: {port}")
    return int(port), proto


def validate(bindings: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for key, items in (bindings or {}).items():
        port, proto = parse_key(key)
        rows = []
        for b in items or [{}]:
            host_ip = (b or {}).get("HostIp") or ""
            host_port = str((b or {}).get("HostPort") or "")
            if host_ip:
                host_ip = family.host_ip(host_ip)  # IPv4 only: an IPv6 one is refused, not ignored
            if host_port and (not host_port.isdigit() or int(host_port) > 65535):
                raise bad_request(f"invalid hostPort: {host_port}")
            rows.append({"HostIp": host_ip, "HostPort": host_port})
        out[f"{port}/{proto}"] = rows
    return out


class PortInUse(Exception):
    pass


class Reservations:
    """The sockets holding host ports, by (proto, host_ip, host_port)."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str, int], socket.socket] = {}

    def reserve(self, proto: str, host_ip: str, host_port: int) -> int:
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(socket.AF_INET, kind | socket.SOCK_CLOEXEC)
        try:
            s.bind((host_ip or "0.0.0.0", host_port))
        except OSError as e:
            s.close()
            raise PortInUse(f"Bind for {host_ip or '0.0.0.0'}:{host_port} failed: port is already allocated") \
                from e
        port = s.getsockname()[1]
        self._held[(proto, host_ip or "0.0.0.0", port)] = s
        return port

    def release(self, m: PortMap) -> None:
        s = self._held.pop((m.proto, m.host_ip, m.host_port), None)
        if s is not None:
            s.close()

    def close(self) -> None:
        for s in self._held.values():
            with contextlib.suppress(OSError):
                s.close()
        self._held.clear()


def publish(res: Reservations, bindings: dict[str, list[dict[str, str]]]) -> list[PortMap]:
    """Every binding given a host port, reserved; on a failure the ones reserved are freed."""
    done: list[PortMap] = []
    try:
        for key, rows in bindings.items():
            port, proto = parse_key(key)
            for row in rows:
                host_ip = row.get("HostIp") or "0.0.0.0"
                host_port = res.reserve(proto, host_ip, int(row.get("HostPort") or 0))
                done.append(PortMap(proto=proto, container_port=port, host_ip=host_ip, host_port=host_port))
    except PortInUse:
        for m in done:
            res.release(m)
        raise
    return done
