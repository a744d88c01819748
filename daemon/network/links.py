"""The kernel side of a bridge network, through pyroute2: the bridge with its gateway
address, and one veth pair per endpoint whose container end is made directly inside
the container's network namespace under its final name (eth0, eth1, ...).

Everything here is blocking netlink and runs in the network service's worker thread."""

from __future__ import annotations

import contextlib
import errno
import os

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from . import netns


def _index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def ensure_bridge(name: str, gateway: str, prefixlen: int) -> None:
    """The bridge up with exactly this gateway address; made if missing."""
    with IPRoute() as ipr:
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
    with IPRoute() as ipr, contextlib.suppress(NetlinkError):
        ipr.link("del", ifname=name)


def ports_of(bridges: list[str], prefix: str) -> list[str]:
    """Our veths: named with our prefix and enslaved to one of our bridges (another
    engine's, or Docker's, are neither)."""
    with IPRoute() as ipr:
        masters = {i for b in bridges for i in ipr.link_lookup(ifname=b)}
        return [link.get_attr("IFLA_IFNAME") for link in ipr.get_links()
                if link.get_attr("IFLA_MASTER") in masters and link.get_attr("IFLA_IFNAME").startswith(prefix)]


def add_endpoint(*, ns_path: str, host_if: str, bridge: str, ifname: str, mac: str, ip: str,
                 prefixlen: int, gateway: str, default_route: bool) -> None:
    """A veth pair: `host_if` on the bridge, `ifname` in the namespace with its address."""
    fd = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with IPRoute() as ipr:
            with contextlib.suppress(NetlinkError):  # a leftover of a crash, by our own name
                ipr.link("del", ifname=host_if)
            ipr.link("add", ifname=host_if, kind="veth",
                     peer={"ifname": ifname, "net_ns_fd": fd, "address": mac})
            idx = _index(ipr, host_if)
            br = _index(ipr, bridge)
            if br is None:
                raise OSError(errno.ENODEV, f"bridge {bridge} is gone")
            ipr.link("set", index=idx, master=br, state="up")
    finally:
        os.close(fd)
    with netns.entered(ns_path), IPRoute() as ns:
        ns.link("set", index=1, state="up")  # lo
        idx = _index(ns, ifname)
        ns.addr("add", index=idx, address=ip, prefixlen=prefixlen)
        ns.link("set", index=idx, state="up")
        if default_route:
            ns.route("add", dst="0.0.0.0/0", gateway=gateway)


def lo_up(ns_path: str) -> None:
    with netns.entered(ns_path), IPRoute() as ns:
        ns.link("set", index=1, state="up")


def remove_endpoint(ns_path: str, ifname: str, host_if: str) -> None:
    """Deleting either end deletes the pair; from the host side, which we can always see."""
    delete_link(host_if)


def _sysctl(key: str, value: str) -> None:
    with contextlib.suppress(OSError), open(f"/proc/sys/{key}", "w") as f:
        f.write(value)


def read_sysctl(key: str) -> str:
    with open(f"/proc/sys/{key}") as f:
        return f.read().strip()


def write_sysctl(key: str, value: str) -> None:
    _sysctl(key, value)
