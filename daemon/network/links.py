"""The kernel side of a bridge network, through pyroute2: the bridge with its gateway
address, and one veth pair per endpoint whose container end is made directly inside
the container's network namespace under its final name (eth0, eth1, ...).

Everything here is blocking netlink and runs in the network service's worker thread,
on one host netlink socket per thread (opening one costs about as much as a request).

A veth is made with both ends up, its host end already on the bridge and its container
end already in the namespace under its final name: one request instead of five; it and
the namespace's addresses go through rtnl.py's hand-written requests."""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from . import netns, rtnl


_local = threading.local()


def host() -> IPRoute:
    """This thread's netlink sockets in the host's namespace (pyroute2's and rtnl's),
    kept open. Made while the thread is at home (never inside netns.entered): a socket
    stays in the namespace it was made in."""
    ipr = getattr(_local, "ipr", None)
    if ipr is None:
        ipr = _local.ipr = IPRoute()
        _local.rt = rtnl.Socket()
    return ipr


def _rt() -> rtnl.Socket:
    host()
    return _local.rt


def close_host() -> None:
    ipr = getattr(_local, "ipr", None)
    if ipr is not None:
        _local.ipr = None
        ipr.close()
        _local.rt.close()


def _index(ipr: IPRoute, name: str) -> int | None:
    """One RTM_GETLINK by name (link_lookup dumps every link of the host)."""
    try:
        return ipr.link("get", ifname=name)[0]["index"]
    except NetlinkError as e:
        if e.code == errno.ENODEV:
            return None
        raise


def ensure_bridge(name: str, gateway: str, prefixlen: int) -> None:
    """The bridge up with exactly this gateway address; made if missing."""
    ipr = host()
    idx = _index(ipr, name)
    if idx is None:
        ipr.link("add", ifname=name, kind="bridge")
        idx = _index(ipr, name)
        assert idx is not None
    have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=idx, family=2)}
    for addr, plen in have - {(gateway, prefixlen)}:
        ipr.addr("del", index=idx, address=addr, prefixlen=plen)
    if (gateway, prefixlen) not in have:
        ipr.addr("add", index=idx, address=gateway, prefixlen=prefixlen)
    ipr.link("set", index=idx, state="up")
    # 127.0.0.1 to a published port is DNATed to a container out of this bridge: the
    # kernel drops loopback sources on a wire unless told otherwise, for this bridge only
    _sysctl(f"net/ipv4/conf/{name}/route_localnet", "1")


def delete_link(name: str) -> None:
    """Gone, whether it was there or not. The kernel takes 15-35 ms over it (it waits for
    RCU grace periods, sleeping): the network service does it off the start and exit paths."""
    with contextlib.suppress(NetlinkError):
        host().link("del", ifname=name)


def index_of(name: str) -> int | None:
    return _index(host(), name)


def ports_of(bridges: list[str], prefix: str) -> list[str]:
    """Our veths: named with our prefix and enslaved to one of our bridges (another
    engine's, or Docker's, are neither)."""
    ipr = host()
    masters = {i for b in bridges for i in ipr.link_lookup(ifname=b)}
    return [link.get_attr("IFLA_IFNAME") for link in ipr.get_links()
            if link.get_attr("IFLA_MASTER") in masters and link.get_attr("IFLA_IFNAME").startswith(prefix)]


def add_veth(*, ns_path: str, host_if: str, bridge: str, ifname: str, mac: str) -> None:
    """A veth pair in one request: `host_if` on the bridge and up, `ifname` (with `mac`) in
    the namespace. `host_if` is new (random); a crash's leftovers are clean_stale's."""
    rt = _rt()
    br = rt.index(bridge)
    if br is None:
        raise OSError(errno.ENODEV, f"bridge {bridge} is gone")
    fd = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        rt.add_veth(host_if, br, ifname, mac, fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Address:
    """What an endpoint's interface gets inside the namespace."""
    ifname: str
    ip: str
    prefixlen: int
    gateway: str  # "": no default route through it


def configure(ns_path: str, addresses: list[Address]) -> None:
    """Inside the namespace, on one socket: lo up, then each interface up with its
    address (and the default route through the first gateway given)."""
    with netns.entered(ns_path), rtnl.Socket() as ns:
        ns.configure(["lo"], [(a.ifname, a.ip, a.prefixlen, a.gateway) for a in addresses])


def _sysctl(key: str, value: str) -> None:
    with contextlib.suppress(OSError), open(f"/proc/sys/{key}", "w") as f:
        f.write(value)


def read_sysctl(key: str) -> str:
    with open(f"/proc/sys/{key}") as f:
        return f.read().strip()


def write_sysctl(key: str, value: str) -> None:
    _sysctl(key, value)
