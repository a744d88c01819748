"""berth's nftables table: published ports (DNAT, in the kernel: no byte goes through
berthd), outbound masquerade per network, isolation between networks.

The whole table is rendered from berthd's state and replaced in one `nft -f`
transaction (flush and refill are atomic): the rules are always exactly what the
running containers need, a restarted berthd that renders them again fixes any drift,
and nothing outside this one table is touched."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from . import nftlib

NFT = "nft"


@dataclass(frozen=True)
class Bridge:
    name: str
    subnet: str
    internal: bool


@dataclass(frozen=True)
class Forward:
    proto: str
    host_ip: str  # "0.0.0.0": every local address
    host_port: int
    bridge: str
    container_ip: str
    container_port: int


def render(table: str, bridges: list[Bridge], forwards: list[Forward]) -> str:
    lines = [f"table ip {table} {{}}", f"delete table ip {table}", f"table ip {table} {{"]
    lines += ["  chain ports {"]
    for f in sorted(forwards, key=lambda f: (f.proto, f.host_port, f.host_ip)):
        match = "" if f.host_ip == "0.0.0.0" else f"ip daddr {f.host_ip} "
        lines.append(f"    {match}{f.proto} dport {f.host_port} dnat to {f.container_ip}:{f.container_port}")
    lines += ["  }",
              "  chain prerouting {", "    type nat hook prerouting priority dstnat; policy accept;",
              "    fib daddr type local jump ports", "  }",
              "  chain output {", "    type nat hook output priority -100; policy accept;",
              "    fib daddr type local jump ports", "  }",
              "  chain postrouting {", "    type nat hook postrouting priority srcnat; policy accept;"]
    for b in bridges:
        # 127.0.0.1 -> a published port: the container answers the bridge's address instead
        lines.append(f'    oifname "{b.name}" ip saddr 127.0.0.0/8 masquerade')
        # a container to its own network's published port through a host address
        lines.append(f'    oifname "{b.name}" iifname "{b.name}" ct status dnat masquerade')
        if not b.internal:
            lines.append(f'    ip saddr {b.subnet} oifname != "{b.name}" masquerade')
    lines += ["  }",
              "  chain forward {", "    type filter hook forward priority filter; policy accept;"]
    for b in bridges:
        if b.internal:
            lines.append(f'    iifname "{b.name}" oifname != "{b.name}" drop')
            lines.append(f'    oifname "{b.name}" iifname != "{b.name}" drop')
        for other in bridges:
            if other.name != b.name:  # isolation: no traffic between two of berth's networks
                lines.append(f'    iifname "{b.name}" oifname "{other.name}" drop')
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def _nft(script: str) -> tuple[int, str, str]:
    """In process when libnftables loads (nftlib.py), else the nft command."""
    if nftlib.available():
        return nftlib.run(script)
    r = subprocess.run([NFT, "-f", "-"], input=script, capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def apply(ruleset: str) -> None:
    rc, _, err = _nft(ruleset)
    if rc != 0:
        raise OSError(f"nft: {err.strip()}")


def remove(table: str) -> None:
    _nft(f"delete table ip {table}\n")


def listed(table: str) -> str:
    rc, out, _ = _nft(f"list table ip {table}\n")
    return out if rc == 0 else ""
