"""The embedded DNS of user-defined networks, as Docker's: 127.0.0.11 inside each
container's own network namespace.

Why there and not on the bridge's gateway: the socket a query arrives on tells whose
query it is, so a container is answered with the names of exactly the networks it is
on (isolation holds for names too, and a container on two networks sees both), and
nothing listens on an address the host's other namespaces can reach. The socket is
made by berthd's network thread inside the namespace (a socket stays in the namespace
it was made in) and served on berthd's event loop; a restarted berthd makes it again.

Names: container names, network aliases and short ids of the containers that share a
user-defined network with the asker, answered from memory. Any other name is passed
to the host's resolvers, as Docker does (the tests never ask one)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from . import etc, netns
from .store import Attachment

if TYPE_CHECKING:
    from .service import Networks

log = logging.getLogger("berthd.dns")
_TTL = 600


def _bound_in(ns_path: str) -> tuple[socket.socket, socket.socket]:
    """UDP and TCP sockets on 127.0.0.11:53 in the namespace (TCP: for answers too long
    for a datagram, and resolvers that ask over TCP first, as `options use-vc` makes them)."""
    socks: list[socket.socket] = []
    try:
        with netns.entered(ns_path):
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                socks.append(socket.socket(socket.AF_INET, kind | socket.SOCK_CLOEXEC))
        udp, tcp = socks
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for s in socks:
            s.bind((etc.EMBEDDED_DNS, 53))
            s.setblocking(False)
        tcp.listen(16)
    except OSError:
        for s in socks:
            s.close()
        raise
    return udp, tcp


async def _answer_bytes(resolver: Resolver, cid: str, data: bytes) -> bytes | None:
    """The reply to one query message: ours, or the host's resolvers' (None: unreadable)."""
    try:
        q = DNSRecord.parse(data)
    except Exception:  # noqa: BLE001 - garbage on the wire is not ours to crash on
        return None
    answer = resolver.answer(cid, q)
    if answer is not None:
        return answer.pack()
    for server in etc.upstream_servers():
        try:
            return await _ask(server, data)
        except (TimeoutError, OSError):
            continue
    reply = q.reply()
    reply.header.rcode = RCODE.SERVFAIL
    return reply.pack()


def _tcp_handler(resolver: Resolver, cid: str) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                                           Awaitable[None]]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # RFC 7766: several queries per connection, each with a 2-byte length
                size = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), 10), "big")
                reply = await _answer_bytes(resolver, cid, await reader.readexactly(size))
                if reply is None:
                    return
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
    return serve


class _Server(asyncio.DatagramProtocol):
    def __init__(self, resolver: Resolver, cid: str) -> None:
        self.resolver, self.cid = resolver, cid
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            q = DNSRecord.parse(data)
        except Exception:  # noqa: BLE001 - garbage on the wire is not ours to crash on
            return
        answer = self.resolver.answer(self.cid, q)
        if answer is not None:
            self._send(answer.pack(), addr)
        else:
            asyncio.get_running_loop().create_task(self._forward(data, addr))

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)

    async def _forward(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await _answer_bytes(self.resolver, self.cid, data)
        if reply is not None:
            self._send(reply, addr)


async def _ask(server: str, data: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()

    class _Once(asyncio.DatagramProtocol):
        def datagram_received(self, d: bytes, _: tuple[str, int]) -> None:
            if not got.done():
                got.set_result(d)

    transport, _ = await loop.create_datagram_endpoint(_Once, remote_addr=(server, 53))
    try:
        transport.sendto(data)
        return await asyncio.wait_for(got, 3)
    finally:
        transport.close()


class Resolver:
    def __init__(self, nets: Networks) -> None:
        self.nets = nets
        self._servers: dict[str, tuple[asyncio.DatagramTransport, asyncio.Server]] = {}

    def _user_networks(self, a: Attachment) -> list[str]:
        return [nid for nid in a.endpoints if not self.nets.by_id[nid].predefined]

    async def serve(self, a: Attachment) -> None:
        if not a.ns_path or not self._user_networks(a) or a.cid in self._servers:
            return
        udp, tcp = await self.nets.run(_bound_in, a.ns_path)
        try:
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: _Server(self, a.cid), sock=udp)
        except BaseException:
            udp.close()
            tcp.close()
            raise
        server = await asyncio.start_server(_tcp_handler(self, a.cid), sock=tcp)
        self._servers[a.cid] = (transport, server)  # type: ignore[assignment]

    def stop(self, cid: str) -> None:
        served = self._servers.pop(cid, None)
        if served is not None:
            served[0].close()
            served[1].close()

    def close(self) -> None:
        for cid in list(self._servers):
            self.stop(cid)

    def lookup(self, cid: str, name: str) -> list[str] | None:
        """Addresses for `name` as `cid` sees it; None when no container has that name."""
        a = self.nets.att.get(cid)
        if a is None:
            return None
        name = name.rstrip(".").lower()
        found: list[str] = []
        for nid in self._user_networks(a):
            net = self.nets.by_id[nid]
            for other in self.nets.members(nid):
                cfg = other.wanted.get(net.name) or {}
                names = {other.name.lower(), other.cid[:12], *(x.lower() for x in cfg.get("Aliases") or [])}
                if name in names:
                    found.append(other.endpoints[nid].ip)
        return found or None

    def answer(self, cid: str, q: DNSRecord) -> DNSRecord | None:
        """The reply to a query for one of our names, or None to forward it."""
        qname = str(q.q.qname)
        ips = self.lookup(cid, qname)
        if ips is None:
            return None
        reply = q.reply()
        if q.q.qtype in (QTYPE.A, QTYPE.ANY):
            for ip in dict.fromkeys(ips):
                reply.add_answer(RR(qname, QTYPE.A, rdata=A(ip), ttl=_TTL))
        return reply  # an AAAA for a known name: no address, no error (no IPv6 here)


