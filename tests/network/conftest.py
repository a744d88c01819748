"""A private berthd (tests/daemon's) with its own bridge, pool, veth prefix and table, and
the host-side view the network tests compare before and after: links, namespaces,
nftables rules, listening sockets."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from tests.daemon.conftest import Berthd, api, berthd  # noqa: F401  (fixtures)
from tests.host import links, mounts_under


@dataclass
class Outside:
    """A test-made namespace joined to the host by a veth pair: another machine, for the
    purpose of reaching a published port, without any traffic leaving this one."""
    ns: str
    host_if: str
    host_ip: str

    def run(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.ns, *argv], capture_output=True, text=True,
                              timeout=timeout)


@pytest.fixture
def outside(berthd: Berthd) -> Iterator[Outside]:
    # the last /30 of the engine's private pool: nothing else of the engine uses it
    pool = ipaddress.ip_network(berthd.net["pool"])
    net = list(pool.subnets(new_prefix=30))[-1]
    host_ip, peer_ip = (str(h) for h in net.hosts())
    suffix = uuid.uuid4().hex[:6]
    ns, host_if = f"bto{suffix}", f"bto{suffix}"
    sh = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "addr", "add", f"{host_ip}/30", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        sh("ip", "-n", ns, "addr", "add", f"{peer_ip}/30", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", host_ip)
        yield Outside(ns=ns, host_if=host_if, host_ip=host_ip)
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _sockets(pid: int) -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count


def host_state(d: Berthd) -> dict:
    """What the engine's networking shows on the host (its own pieces only). berthd's
    socket count once it holds still: a stopped container's veth deletion goes on in a
    thread of its own, with its netlink socket, for the kernel's last 10-30 ms."""
    table = subprocess.run(["nft", "list", "table", "ip", d.net["table"]], capture_output=True,
                           text=True).stdout
    dnat = sorted(line.strip() for line in table.splitlines() if "dnat to" in line)
    assert d.proc is not None
    sockets = _sockets(d.proc.pid)
    for _ in range(25):
        time.sleep(0.2)
        again, sockets = sockets, _sockets(d.proc.pid)
        if again == sockets:
            break
    return {
        "links": sorted(n for n in links() if n.startswith(d.net["veth"])),
        "netns": mounts_under(os.path.join(d.exec_root, "netns")),
        "dnat": dnat,
        "berthd_sockets": sockets,
    }
