"""berth's networks are IPv4 only: what asks for IPv6 is refused, never accepted and ignored.

Why not serve [::] as dockerd 20.10 does for `-p 8080:80`: there the [::] side is
docker-proxy, a userland copy of every byte, because the kernel cannot NAT from IPv6
to a container's IPv4 address (nftables' ip6 family DNATs to IPv6 only); the kernel
path would need IPv6 networks (an fd00::/64 per bridge, addresses per endpoint, an ip6
table, AAAA answers from the embedded DNS), which berth does not have. So a published
port answers on IPv4 addresses (0.0.0.0 by default, as docker's first binding), an
explicit IPv6 host address is refused, and so are EnableIPv6 networks (manage.create),
an endpoint's IPv6Address and link-local addresses."""

from __future__ import annotations

import ipaddress
from typing import Any

from ..http.errors import bad_request

NO_IPV6_PUBLISH = ("berth publishes ports on IPv4 addresses only, not on {ip}: its networks have no IPv6 "
                   "and it keeps no userland proxy (use an IPv4 host address, or none for 0.0.0.0)")
# dockerd's runconfig.ErrUnsupportedNetworkNoSubnetAndIP: no network of berth has an IPv6 subnet
NO_IPV6_SUBNET = "user specified IP address is supported only when connecting to networks with user configured subnets"
NO_LINK_LOCAL = "link-local addresses (LinkLocalIPs, --link-local-ip) are not supported by berth"


def host_ip(value: str) -> str:
    """A published port's HostIp, checked: IPv4 (as written) or a clear refusal."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        raise bad_request(f"invalid IP address: {value}") from None
    if ip.version == 6:
        raise bad_request(NO_IPV6_PUBLISH.format(ip=value))
    return str(ip)


def endpoint(cfg: dict[str, Any] | None) -> None:
    """An EndpointSettings (create's NetworkingConfig, or connect's) asks for no IPv6."""
    ipam = (cfg or {}).get("IPAMConfig") or {}
    if ipam.get("IPv6Address"):
        raise bad_request(NO_IPV6_SUBNET)
    if ipam.get("LinkLocalIPs"):
        raise bad_request(NO_LINK_LOCAL)
