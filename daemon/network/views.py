"""Networks and a container's NetworkSettings as the Engine API shows them (v1.45)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .store import Attachment, Endpoint, Network

if TYPE_CHECKING:
    from .service import Networks


def network(nets: Networks, n: Network, with_containers: bool = True) -> dict[str, Any]:
    containers = {}
    if with_containers:
        for a in nets.members(n.id):
            ep = a.endpoints[n.id]
            containers[a.cid] = {"Name": a.name, "EndpointID": ep.endpoint_id, "MacAddress": ep.mac,
                                 "IPv4Address": f"{ep.ip}/{ep.prefixlen}", "IPv6Address": ""}
    config = [{"Subnet": n.subnet, "Gateway": n.gateway}] if n.subnet else []
    return {
        "Name": n.name, "Id": n.id, "Created": n.created, "Scope": "local", "Driver": n.driver,
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": n.ipam_options or None, "Config": config},
        "Internal": n.internal, "Attachable": n.attachable, "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
        "Containers": containers, "Options": n.options, "Labels": n.labels,
    }


def _endpoint(nets: Networks, a: Attachment, name: str, ep: Endpoint | None) -> dict[str, Any]:
    n = nets.find(name)
    cfg = a.wanted.get(name) or {}
    aliases = list(cfg.get("Aliases") or []) or None
    dns_names = None
    if n is not None and not n.predefined:
        # dockerd's order (the first one names the PTR record), each name once
        dns_names = list(dict.fromkeys(x for x in (a.name, *(aliases or []), a.cid[:12], a.hostname) if x))
    return {
        "IPAMConfig": cfg.get("IPAMConfig") or None, "Links": cfg.get("Links") or None,
        "Aliases": aliases, "MacAddress": ep.mac if ep else "",
        "DriverOpts": cfg.get("DriverOpts") or None,
        "NetworkID": n.id if n else "", "EndpointID": ep.endpoint_id if ep else "",
        "Gateway": ep.gateway if ep else "", "IPAddress": ep.ip if ep else "",
        "IPPrefixLen": ep.prefixlen if ep else 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0, "DNSNames": dns_names,
    }


def ports_map(a: Attachment, running: bool) -> dict[str, Any]:
    if not running or not a.ns_path:
        return {}
    out: dict[str, Any] = {k: None for k in a.exposed}
    for m in a.ports:
        out.setdefault(f"{m.container_port}/{m.proto}", None)
        out[f"{m.container_port}/{m.proto}"] = [
            *(out[f"{m.container_port}/{m.proto}"] or []), {"HostIp": m.host_ip, "HostPort": str(m.host_port)}]
    return out


def settings(nets: Networks, cid: str, running: bool) -> dict[str, Any]:
    a = nets.att.get(cid)
    base: dict[str, Any] = {
        "Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {}, "HairpinMode": False,
        "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None, "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
        "MacAddress": "", "Networks": {},
    }
    if a is None:
        return base
    if a.ns_path and running:
        base["SandboxID"], base["SandboxKey"] = a.cid, a.ns_path
    base["Ports"] = ports_map(a, running)
    if a.mode in ("host", "none"):
        base["Networks"][a.mode] = _endpoint(nets, a, a.mode, None)
    by_name = {nets.by_id[ep.network_id].name: ep for ep in a.endpoints.values() if ep.network_id in nets.by_id}
    for name in a.wanted:
        ep = by_name.get(name) if running else None
        base["Networks"][name] = _endpoint(nets, a, name, ep)
        if name == "bridge" and ep is not None:
            base.update({"EndpointID": ep.endpoint_id, "Gateway": ep.gateway, "IPAddress": ep.ip,
                         "IPPrefixLen": ep.prefixlen, "MacAddress": ep.mac})
    return base


def summary_ports(nets: Networks, cid: str, running: bool) -> list[dict[str, Any]]:
    """A list entry's Ports: dockerd's come from the port map it makes at start and drops
    at stop, so a created or exited container lists none (not even its exposed ports)."""
    a = nets.att.get(cid)
    if a is None or not running:
        return []
    out: list[dict[str, Any]] = []
    published = {(m.container_port, m.proto) for m in a.ports}
    for m in a.ports:
        out.append({"IP": m.host_ip, "PrivatePort": m.container_port, "PublicPort": m.host_port, "Type": m.proto})
    for key in a.exposed:
        port, _, proto = key.partition("/")
        if (int(port), proto) not in published:
            out.append({"PrivatePort": int(port), "Type": proto})
    return out


def summary_networks(nets: Networks, cid: str, running: bool) -> dict[str, Any]:
    return settings(nets, cid, running)["Networks"]
