"""Addresses of a network's subnet, handed out one at a time and persisted.

One JSON file per network, rewritten atomically under an flock: two berthd threads,
two requests or a berthd and its successor never hand out the same address, and a
lease survives a restart. Like Docker's IPAM, addresses go round the subnet (the next
one after the last handed out), so a released address is not reused at once, while a
peer may still hold it in its ARP cache or conntrack table.

The file is written without fsync: a berthd that dies leaves its writes in the page
cache, where its successor reads them; a machine that crashes leaves no container
running, and restore() keeps only the leases of running containers' endpoints
(retain()), so a lost or torn write cannot make an address handed out twice. The fsyncs
cost ~2 ms of every start and exit."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
from typing import Iterator

from berth.common.files import read_json, write_atomic


class PoolExhausted(Exception):
    pass


class AddressInUse(Exception):
    pass


class Ipam:
    def __init__(self, directory: str) -> None:
        self.dir = directory
        os.makedirs(directory, mode=0o700, exist_ok=True)

    def _path(self, net_id: str) -> str:
        return os.path.join(self.dir, f"{net_id}.json")

    @contextlib.contextmanager
    def _locked(self, net_id: str) -> Iterator[dict]:
        fd = os.open(os.path.join(self.dir, f"{net_id}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                state = read_json(self._path(net_id))
            except (OSError, ValueError):
                state = {"last": "", "leases": {}}
            before = repr(state)
            yield state
            if repr(state) != before:
                write_atomic(self._path(net_id), json.dumps(state, separators=(",", ":")).encode(), 0o600,
                             durable=False)
        finally:
            os.close(fd)

    def allocate(self, net_id: str, subnet: str, gateway: str, owner: str, wanted: str = "") -> str:
        """An address for `owner` (an endpoint id): `wanted` if free, else the next free one."""
        net = ipaddress.ip_network(subnet)
        with self._locked(net_id) as st:
            leases: dict[str, str] = st["leases"]
            if wanted:
                ip = ipaddress.ip_address(wanted)
                if ip not in net or ip in (net.network_address, net.broadcast_address):
                    raise AddressInUse(f"no configured subnet or ip-range contain the IP address {wanted}")
                if wanted == gateway or leases.get(wanted, owner) != owner:
                    raise AddressInUse("Address already in use")
                leases[wanted] = owner
                return wanted
            first, last = int(net.network_address) + 1, int(net.broadcast_address) - 1
            start = int(ipaddress.ip_address(st["last"])) + 1 if st["last"] else first
            size = last - first + 1
            for i in range(size):
                n = first + (start - first + i) % size
                cand = str(ipaddress.ip_address(n))
                if cand != gateway and cand not in leases:
                    leases[cand] = owner
                    st["last"] = cand
                    return cand
        raise PoolExhausted(f"no available IPv4 addresses on this network's address pools: {subnet}")

    def release(self, net_id: str, ip: str, owner: str) -> None:
        with self._locked(net_id) as st:
            if st["leases"].get(ip) == owner:
                del st["leases"][ip]

    def retain(self, net_id: str, owners: set[str]) -> list[str]:
        """Only the leases of these owners kept (at restore: the endpoints of running
        containers); the addresses let go are returned."""
        with self._locked(net_id) as st:
            gone = [ip for ip, owner in st["leases"].items() if owner not in owners]
            for ip in gone:
                del st["leases"][ip]
        return gone

    def leases(self, net_id: str) -> dict[str, str]:
        with self._locked(net_id) as st:
            return dict(st["leases"])

    def drop(self, net_id: str) -> None:
        for suffix in (".json", ".lock"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.dir, net_id + suffix))
