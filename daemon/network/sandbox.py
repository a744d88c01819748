"""One container's network, made at start and taken down at exit: its namespace, an
endpoint (veth + address) per network, its published ports. Blocking kernel work,
run in the network service's worker thread; every step that fails undoes the ones
before it, so a failed start leaves nothing behind.

At exit the bookkeeping (ports, addresses, the record) is done first, then the kernel
objects (`Leftovers`) are removed before the exit is told, beside the worker (the network
service's removal threads): a container reported exited must have left nothing on the
host (dockerd's order too). Deleting a veth makes the kernel wait 15-35 ms for RCU grace
periods, most of it after the link is gone from the host (unlink.py). The worker runs one
job at a time, in order."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

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


def make_namespace(a: Attachment, ns_path: str, source: str) -> None:
    """A second name for `source`'s namespace (container:NAME); setup() makes new ones."""
    if netns.mounted(ns_path):  # a leftover of a crash
        netns.remove(ns_path)
    netns.bind(source, ns_path)
    a.ns_path = ns_path


@dataclass(frozen=True)
class Wanted:
    """One network a starting container joins, as its endpoint settings ask."""
    net: Network
    ifname: str
    default_route: bool
    ip: str = ""
    mac: str = ""


def join(a: Attachment, net: Network, *, ipam: Ipam, veth_prefix: str, ifname: str,
         default_route: bool, wanted_ip: str = "", wanted_mac: str = "") -> Endpoint:
    """The container on `net`: an address from the IPAM, a veth pair onto the bridge."""
    ep = _endpoint(a, Wanted(net, ifname, default_route, wanted_ip, wanted_mac), ipam, veth_prefix)
    try:
        links.configure(a.ns_path, [_address(ep, default_route)])
    except BaseException:
        leave(a, net.id, ipam)
        raise
    return ep


def _endpoint(a: Attachment, w: Wanted, ipam: Ipam, veth_prefix: str) -> Endpoint:
    """An address and a veth whose container end is in the namespace (still down)."""
    net = w.net
    endpoint_id = secrets.token_hex(32)
    ip = ipam.allocate(net.id, net.subnet, net.gateway, endpoint_id, w.ip)
    ep = Endpoint(network_id=net.id, endpoint_id=endpoint_id, ifname=w.ifname,
                  host_if=host_if_name(veth_prefix, endpoint_id), ip=ip, prefixlen=net.prefixlen,
                  gateway=net.gateway, mac=w.mac or mac_of(ip))
    try:
        links.add_veth(ns_path=a.ns_path, host_if=ep.host_if, bridge=net.bridge, ifname=w.ifname, mac=ep.mac)
    except BaseException:
        links.delete_link(ep.host_if)
        ipam.release(net.id, ip, endpoint_id)
        raise
    a.endpoints[net.id] = ep
    return ep


def _address(ep: Endpoint, default_route: bool) -> links.Address:
    return links.Address(ep.ifname, ep.ip, ep.prefixlen, ep.gateway if default_route else "")


def setup(a: Attachment, ns_path: str, wanted: list[Wanted], ipam: Ipam, veth_prefix: str) -> None:
    """A new namespace and every endpoint, in one visit of the worker and one of the
    namespace. What is done is recorded on `a` as it is done: on a failure the caller's
    teardown takes it all back."""
    if netns.mounted(ns_path):  # a leftover of a crash
        netns.remove(ns_path)
    netns.create(ns_path)
    a.ns_path = ns_path
    for w in wanted:
        _endpoint(a, w, ipam, veth_prefix)
    links.configure(ns_path, [_address(a.endpoints[w.net.id], w.default_route) for w in wanted])


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
    remove(detach(a, ipam, res))


@dataclass
class Leftovers:
    """The kernel objects of a container that has let go of its network."""
    cid: str
    host_ifs: list[str] = field(default_factory=list)
    ns_path: str = ""


def detach(a: Attachment, ipam: Ipam, res: Reservations) -> Leftovers:
    """The bookkeeping of a teardown, at once: host ports and addresses released, `a` left
    with nothing live. The veths and the namespace are returned for remove()."""
    for m in a.ports:
        res.release(m)
    a.ports = []
    gone = Leftovers(a.cid, [ep.host_if for ep in a.endpoints.values()], a.ns_path)
    # Released before the veth is gone: an address goes to the next container only after
    # the whole subnet has gone round, and its veth is made by the worker after this one's
    # removal in any case.
    for net_id, ep in a.endpoints.items():
        try:
            ipam.release(net_id, ep.ip, ep.endpoint_id)
        except OSError:  # the rest is still let go; restore()'s retain() frees it later
            log.exception("releasing %s of %s", ep.ip, a.cid)
    a.endpoints = {}
    a.ns_path = ""
    return gone


def remove(gone: Leftovers, delete_link: Callable[[str], None] = links.delete_link) -> None:
    """The veths, then the namespace (deleting a veth deletes its peer inside)."""
    for name in gone.host_ifs:
        try:
            delete_link(name)
        except Exception:  # noqa: BLE001 - the rest is still taken down; clean_stale gets it later
            log.exception("removing veth %s of %s", name, gone.cid)
    if gone.ns_path:
        netns.remove(gone.ns_path)


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
