"""One container's network, made at start and taken down at exit: its namespace, an
endpoint (veth + address) per network, its published ports. Blocking kernel work,
run in the network service's worker thread; every step that fails undoes the ones
before it, so a failed start leaves nothing behind."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import secrets

from . import links, netns
from .ipam import Ipam
from .ports import Reservations, publish
from .store import Attachment, Endpoint, Network

log = logging.getLogger("berthd.network")


def mac_of(ip: str) -> str:
    """docker's: 02:42 and the IPv4 address's four bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(ip).packed)


def host_if_name(prefix: str, endpoint_id: str) -> str:
    return (prefix + endpoint_id)[:15]


def make_namespace(a: Attachment, ns_path: str, source: str = "") -> None:
    """A new namespace with lo up, or a second name for `source`'s (container:NAME)."""
    if netns.mounted(ns_path):  # a leftover of a crash
        netns.remove(ns_path)
    if source:
        netns.bind(source, ns_path)
    else:
        netns.create(ns_path)
        try:
            links.lo_up(ns_path)
        except Exception:
            netns.remove(ns_path)
            raise
    a.ns_path = ns_path


def join(a: Attachment, net: Network, *, ipam: Ipam, veth_prefix: str, ifname: str,
         default_route: bool, wanted_ip: str = "", wanted_mac: str = "") -> Endpoint:
    """The container on `net`: an address from the IPAM, a veth pair onto the bridge."""
    endpoint_id = secrets.token_hex(32)
    ip = ipam.allocate(net.id, net.subnet, net.gateway, endpoint_id, wanted_ip)
    ep = Endpoint(network_id=net.id, endpoint_id=endpoint_id, ifname=ifname,
                  host_if=host_if_name(veth_prefix, endpoint_id), ip=ip, prefixlen=net.prefixlen,
                  gateway=net.gateway, mac=wanted_mac or mac_of(ip))
    try:
        links.add_endpoint(ns_path=a.ns_path, host_if=ep.host_if, bridge=net.bridge, ifname=ifname,
                           mac=ep.mac, ip=ip, prefixlen=net.prefixlen, gateway=net.gateway,
                           default_route=default_route)
    except BaseException:
        links.delete_link(ep.host_if)
        ipam.release(net.id, ip, endpoint_id)
        raise
    a.endpoints[net.id] = ep
    return ep


def leave(a: Attachment, net_id: str, ipam: Ipam) -> None:
    ep = a.endpoints.pop(net_id, None)
    if ep is None:
        return
    links.delete_link(ep.host_if)
    ipam.release(net_id, ep.ip, ep.endpoint_id)


def open_ports(a: Attachment, res: Reservations) -> None:
    a.ports = publish(res, resolved_bindings(a))


def resolved_bindings(a: Attachment) -> dict[str, list[dict[str, str]]]:
    """PortBindings, plus every exposed port to a free host port with -P."""
    out = {k: list(v) for k, v in a.bindings.items()}
    if a.publish_all:
        for key in a.exposed:
            out.setdefault(key, [{"HostIp": "", "HostPort": ""}])
    return out


def teardown(a: Attachment, ipam: Ipam, res: Reservations) -> None:
    """Everything the container had, whatever state a crash left it in."""
    for m in a.ports:
        res.release(m)
    a.ports = []
    for net_id in list(a.endpoints):
        try:
            leave(a, net_id, ipam)
        except Exception:  # noqa: BLE001 - the rest is still taken down; the leftover is logged
            log.exception("removing endpoint of %s on %s", a.cid, net_id)
            a.endpoints.pop(net_id, None)
    if a.ns_path:
        netns.remove(a.ns_path)
        a.ns_path = ""


def clean_stale(netns_dir: str, bridges: list[str], veth_prefix: str, live_ns: set[str],
                live_ifs: set[str]) -> list[str]:
    """After a crash of everything: namespaces and veths no running container owns."""
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.listdir(netns_dir):
            path = os.path.join(netns_dir, entry)
            if path not in live_ns:
                netns.remove(path)
                removed.append(path)
    for name in links.ports_of(bridges, veth_prefix):
        if name not in live_ifs:
            links.delete_link(name)
            removed.append(name)
    return removed
