"""The few rtnetlink requests of a container's start, written by hand on a plain
netlink socket: a veth made whole in one request (its host end up on the bridge, the
other end in the namespace), then inside the namespace lo and that end up, its address
and the default route, sent as one batch and acknowledged together. pyroute2 costs
~0.5 ms of Python per request (it runs an event loop for each); these cost a few
microseconds. Everything else stays on pyroute2."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct

_RTM_NEWLINK, _RTM_GETLINK, _RTM_NEWADDR, _RTM_NEWROUTE = 16, 18, 20, 24
_F_REQUEST, _F_ACK, _F_EXCL, _F_CREATE = 0x1, 0x4, 0x200, 0x400
_NLMSG_ERROR = 2
_IFF_UP = 0x1
_IFLA_ADDRESS, _IFLA_IFNAME, _IFLA_MASTER, _IFLA_LINKINFO, _IFLA_NET_NS_FD = 1, 3, 10, 18, 28
_IFLA_INFO_KIND, _IFLA_INFO_DATA, _VETH_INFO_PEER = 1, 2, 1
_IFA_ADDRESS, _IFA_LOCAL = 1, 2
_RTA_GATEWAY = 5
_HDR = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid


def _attr(kind: int, data: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(data), kind) + data
    return raw + b"\0" * (-len(raw) % 4)


def _ifinfo(index: int = 0, up: bool = False) -> bytes:
    flags = _IFF_UP if up else 0
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, flags, flags)


def _name(name: str) -> bytes:
    return _attr(_IFLA_IFNAME, name.encode() + b"\0")


class Socket:
    """One NETLINK_ROUTE socket, in the namespace of the thread that made it."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
        self._sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _batch(self, requests: list[tuple[int, int, bytes]]) -> dict[int, bytes]:
        """Send all, then read every answer: {seq: the answer's payload} for the ones that
        answer with data; the first error raises (its errno), after all are read."""
        out, first_seq = b"", self._seq + 1
        for kind, flags, payload in requests:
            self._seq += 1
            out += _HDR.pack(_HDR.size + len(payload), kind, _F_REQUEST | _F_ACK | flags, self._seq, 0) + payload
        self._sock.sendall(out)
        pending, got, error = set(range(first_seq, self._seq + 1)), {}, 0
        while pending:
            data = self._sock.recv(65536)
            off = 0
            while off + _HDR.size <= len(data):
                size, kind, _, seq, _ = _HDR.unpack_from(data, off)
                body = data[off + _HDR.size:off + size]
                off += (size + 3) & ~3
                if kind == _NLMSG_ERROR:
                    code = -struct.unpack_from("=i", body)[0]
                    error = error or code
                    pending.discard(seq)
                elif seq in pending:
                    got[seq] = body  # a GET's answer; its ack follows
        if error:
            raise OSError(error, os.strerror(error))
        return {seq - first_seq: body for seq, body in got.items()}

    def index(self, name: str) -> int | None:
        try:
            body = self._batch([(_RTM_GETLINK, 0, _ifinfo() + _name(name))])[0]
        except OSError as e:
            if e.errno == errno.ENODEV:
                return None
            raise
        return struct.unpack_from("=BxHiII", body)[2]

    def add_veth(self, host_if: str, master: int, peer: str, peer_mac: str, ns_fd: int) -> None:
        """`host_if` up on the bridge `master`, `peer` (down: a veth end cannot open before
        its pair exists, ENOTCONN) in the namespace."""
        mac = bytes.fromhex(peer_mac.replace(":", ""))
        peer_msg = _ifinfo() + _name(peer) + _attr(_IFLA_ADDRESS, mac) + \
            _attr(_IFLA_NET_NS_FD, struct.pack("=I", ns_fd))
        info = _attr(_IFLA_INFO_KIND, b"veth") + _attr(_IFLA_INFO_DATA, _attr(_VETH_INFO_PEER, peer_msg))
        payload = _ifinfo(up=True) + _name(host_if) + _attr(_IFLA_MASTER, struct.pack("=I", master)) + \
            _attr(_IFLA_LINKINFO, info)
        self._batch([(_RTM_NEWLINK, _F_CREATE | _F_EXCL, payload)])

    def configure(self, up: list[str], addresses: list[tuple[str, str, int, str]]) -> None:
        """Links `up` set up, then (ifname, ip, prefixlen, gateway or "") each addressed,
        with the default route through its gateway: two round trips in all."""
        names = {a[0] for a in addresses}
        found = {n: self.index(n) for n in names}
        reqs = [(_RTM_NEWLINK, 0, _ifinfo(up=True) + _name(n)) for n in up]
        for ifname, ip, prefixlen, gateway in addresses:
            idx = found[ifname]
            if idx is None:
                raise OSError(errno.ENODEV, f"no link {ifname}")
            packed = ipaddress.IPv4Address(ip).packed
            reqs.append((_RTM_NEWLINK, 0, _ifinfo(idx, up=True)))
            reqs.append((_RTM_NEWADDR, _F_CREATE | _F_EXCL,
                         struct.pack("=BBBBI", socket.AF_INET, prefixlen, 0, 0, idx)
                         + _attr(_IFA_LOCAL, packed) + _attr(_IFA_ADDRESS, packed)))
            if gateway:
                # rtmsg: family, dst_len, src_len, tos, table main, proto boot, scope universe, unicast
                reqs.append((_RTM_NEWROUTE, _F_CREATE | _F_EXCL,
                             struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 254, 3, 0, 1, 0)
                             + _attr(_RTA_GATEWAY, ipaddress.IPv4Address(gateway).packed)))
        self._batch(reqs)
