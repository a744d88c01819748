"""Legacy links on the default bridge (`--link NAME[:ALIAS]`): the environment Docker
gives the linking container's process (moby's links.Link.ToEnv). /etc/hosts entries
are prepare.link_hosts'. On user-defined networks a link is only a DNS alias, and
there is no environment, as in Docker.

The variables go into the process's environment, not into Config.Env: `inspect`
shows neither in Docker."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .store import Attachment

if TYPE_CHECKING:
    from .service import Networks

_NOT_PASSED = ("HOME", "PATH")  # moby leaves these of the linked container out


def _port_key(spec: str) -> tuple[int, str]:
    port, _, proto = spec.partition("/")
    return int(port), proto or "tcp"


def link_env(nets: Networks, a: Attachment, env_of: Callable[[str], list[str]]) -> list[str]:
    """ALIAS_NAME, ALIAS_PORT, ALIAS_PORT_<port>_<PROTO>[_ADDR|_PORT|_PROTO], ALIAS_ENV_<var>."""
    if a.mode != "bridge":
        return []
    out: list[str] = []
    for link in a.links:
        target, _, alias = link.partition(":")
        alias = (alias or target).lstrip("/").split("/")[-1]
        other = next((o for o in nets.att.values() if o.name == target.lstrip("/")), None)
        ep = next(iter(other.endpoints.values()), None) if other is not None else None
        if other is None or ep is None:
            continue
        var = alias.upper().replace("-", "_")
        ports = sorted({_port_key(p) for p in other.exposed})
        if ports:
            port, proto = ports[0]
            out.append(f"{var}_PORT={proto}://{ep.ip}:{port}")
        for port, proto in ports:
            base = f"{var}_PORT_{port}_{proto.upper()}"
            out += [f"{base}={proto}://{ep.ip}:{port}", f"{base}_ADDR={ep.ip}", f"{base}_PORT={port}",
                    f"{base}_PROTO={proto}"]
        out.append(f"{var}_NAME=/{a.name}/{alias}")
        for entry in env_of(other.cid):
            name, sep, value = entry.partition("=")
            if sep and name not in _NOT_PASSED:
                out.append(f"{var}_ENV_{name}={value}")
    return out
