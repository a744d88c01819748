"""Subnets for berth's networks that collide with nothing the host routes to.

Read from the kernel (pyroute2) each time one is picked: the host's own routes and
addresses (its default route aside, which covers everything), docker0's 172.17.0.0/16
even when Docker is not running, and the subnets berth already uses."""

from __future__ import annotations

import ipaddress
from typing import Iterable

DOCKER0 = ipaddress.ip_network("172.17.0.0/16")


def host_networks() -> list[ipaddress.IPv4Network]:
    from pyroute2 import IPRoute

    out = []
    with IPRoute() as ipr:
        for r in ipr.get_routes(family=2):
            dst, plen = r.get_attr("RTA_DST"), r["dst_len"]
            if dst and plen:
                out.append(ipaddress.ip_network(f"{dst}/{plen}", strict=False))
        for a in ipr.get_addr(family=2):
            out.append(ipaddress.ip_network(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}", strict=False))
    return out


def pick(pools: Iterable[tuple[str, int]], used: Iterable[str]) -> str:
    """The first subnet of the pools that overlaps no host route and no used subnet."""
    taken = [*host_networks(), DOCKER0, *(ipaddress.ip_network(u) for u in used)]
    for base, size in pools:
        for cand in ipaddress.ip_network(base).subnets(new_prefix=size):
            if not any(cand.overlaps(t) for t in taken):
                return str(cand)
    raise ValueError("could not find an available, non-overlapping IPv4 address pool among "
                     "the defaults to assign to the network")


def gateway_of(subnet: str) -> str:
    return str(next(ipaddress.ip_network(subnet).hosts()))


def overlaps_host(subnet: str, mine: Iterable[str] = ()) -> bool:
    """Whether the host routes into `subnet` other than through berth's own bridges (whose
    routes, addresses and local-table entries lie inside `mine`)."""
    net = ipaddress.ip_network(subnet, strict=False)
    own = [ipaddress.ip_network(s) for s in mine]
    return any(net.overlaps(t) for t in host_networks() if not any(t.subnet_of(m) for m in own))
