"""The network service: berth's networks (the predefined bridge, host and none, and
user-defined bridges), each container's attachments through its life, the nftables
table that follows them. The container service calls in at create, start, exit and
remove (small hooks); the networks router calls the rest (manage.py)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from berth.common.timefmt import rfc3339_nano

from ..config import Config
from ..http.errors import ApiError
from . import links, nat, pool, sandbox, stale_bpf, unlink
from .dns import Resolver
from .ipam import AddressInUse, Ipam, PoolExhausted
from .ports import PortInUse, Reservations
from .store import Attachment, Network, NetworkStore

log = logging.getLogger("berthd.network")
T = TypeVar("T")
PREDEFINED = ("bridge", "host", "none")


def _closing(fn: Callable[..., T], *args: Any) -> T:
    """A removal thread keeps no netlink socket between jobs (~1 ms to open one): berthd
    holds as many sockets when idle as before."""
    try:
        return fn(*args)
    finally:
        links.close_host()


class Networks:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = NetworkStore(config.network_dir)
        self.ipam = Ipam(os.path.join(config.network_dir, "ipam"))
        self.ports = Reservations()
        self.dns = Resolver(self)
        self.by_id: dict[str, Network] = {}
        self.att: dict[str, Attachment] = {}
        # netlink and namespace work, one step at a time, off the event loop
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="berth-net")
        # deleting a veth sleeps 15-35 ms in the kernel (RCU grace periods): the exits of a
        # project's containers (compose down) wait for theirs side by side, not behind each
        # other, and the worker's next job (a start's setup, an exit's detach) not behind them
        self._reaper = ThreadPoolExecutor(4, thread_name_prefix="berth-net-rm")
        # where a link's deletion finishes once the host no longer has it (unlink.py)
        self._unlinking = ThreadPoolExecutor(4, thread_name_prefix="berth-net-unlink")
        self._forward_file = os.path.join(config.exec_root, "network-ip_forward.orig")
        # read now: the container service's reconcile may release or forget before restore()
        self.by_id = {n.id: n for n in self.store.load_networks()}
        self.att = {a.cid: a for a in self.store.load_attachments()}

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    async def run_removal(self, fn: Callable[..., T], *args: Any) -> T:
        """Kernel objects nothing refers to any more (a stopped container's veths, with
        random names, and its namespace): taken down beside the worker's jobs."""
        return await asyncio.get_running_loop().run_in_executor(self._reaper, _closing, fn, *args)

    def unlink(self, name: str) -> None:
        """Blocking (a worker's or a removal's thread): link `name` gone from the host."""
        unlink.delete(name, index_of=links.index_of, delete_link=functools.partial(_closing, links.delete_link),
                      background=self._unlinking)

    # ------------------------------------------------------------- lookups
    def get(self, ref: str) -> Network:
        """docker's order: full id, exact name, unique id prefix."""
        if ref in self.by_id:
            return self.by_id[ref]
        for n in self.by_id.values():
            if n.name == ref:
                return n
        found = [n for n in self.by_id.values() if ref and n.id.startswith(ref)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ApiError(400, f"network {ref} is ambiguous ({len(found)} matches found based on ID prefix)")
        raise ApiError(404, f"network {ref} not found")

    def find(self, ref: str) -> Network | None:
        try:
            return self.get(ref)
        except ApiError:
            return None

    def bridges(self) -> list[Network]:
        return [n for n in self.by_id.values() if n.driver == "bridge"]

    def members(self, net_id: str) -> list[Attachment]:
        return [a for a in self.att.values() if net_id in a.endpoints]

    # ------------------------------------------------------------- setup
    async def restore(self, running: set[str]) -> None:
        """At berthd's start: networks and bridges as recorded, the attachments of
        running containers kept (ports held again, DNS served again), everything else
        a crash left behind taken down."""
        await self.run(self._predefined)
        await self.run(self._ip_forward_on)
        await self.run(self._sweep_stale_bpf)
        for n in self.bridges():
            await self.run(links.ensure_bridge, n.bridge, n.gateway, n.prefixlen)
        for a in list(self.att.values()):
            if a.cid in running and a.ns_path:
                try:
                    for m in a.ports:
                        self.ports.reserve(m.proto, m.host_ip, m.host_port)
                    await self.dns.serve(a)
                except (OSError, PortInUse) as e:
                    log.warning("container %s: network after restart: %s", a.cid, e)
            elif a.ns_path or a.endpoints or a.ports:
                await self.run(sandbox.teardown, a, self.ipam, self.ports)
                self.store.save(a)
        owners = {ep.endpoint_id for a in self.att.values() for ep in a.endpoints.values()}
        for n in self.bridges():  # a lease a crash kept from its record is let go
            await self.run(self.ipam.retain, n.id, owners)
        live_ns = {a.ns_path for a in self.att.values() if a.ns_path}
        live_ifs = {ep.host_if for a in self.att.values() for ep in a.endpoints.values()}
        stale = await self.run(sandbox.clean_stale, self.config.netns_dir, [n.bridge for n in self.bridges()],
                               self.config.veth_prefix, live_ns, live_ifs)
        if stale:
            log.info("removed what a crash left: %s", ", ".join(stale))
        await self.sync_rules()

    def _predefined(self) -> None:
        have = {n.name: n for n in self.by_id.values() if n.predefined}
        for name, driver in (("bridge", "bridge"), ("host", "host"), ("none", "null")):
            if name == "bridge" and self.config.bridge == "none":
                if "bridge" in have:
                    self.by_id.pop(have["bridge"].id)
                    self.store.drop_network(have["bridge"])
                continue
            n = have.get(name) or Network(id=secrets.token_hex(32), name=name, driver=driver,
                                          created=rfc3339_nano(), predefined=True)
            if name == "bridge":
                self._default_subnet(n)
                n.options = {"com.docker.network.bridge.default_bridge": "true",
                             "com.docker.network.bridge.enable_icc": "true",
                             "com.docker.network.bridge.enable_ip_masquerade": "true",
                             "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                             "com.docker.network.bridge.name": self.config.bridge,
                             "com.docker.network.driver.mtu": "1500"}
            self.by_id[n.id] = n
            self.store.save_network(n)

    def _default_subnet(self, n: Network) -> None:
        """--bip if given; else the subnet it had, unless the host now routes there."""
        import ipaddress

        n.bridge = self.config.bridge
        if self.config.bip:
            iface = ipaddress.ip_interface(self.config.bip)
            n.subnet, n.gateway = str(iface.network), str(iface.ip)
            return
        others = [m.subnet for m in self.bridges() if m.id != n.id and m.subnet]
        if n.subnet and not pool.overlaps_host(n.subnet, [n.subnet]):
            return
        n.subnet = pool.pick(self.config.default_address_pools, others)
        n.gateway = pool.gateway_of(n.subnet)

    def _ip_forward_on(self) -> None:
        """Routing between the bridges and the host needs it; the old value is kept
        and put back when berthd stops with nothing running."""
        key = "net/ipv4/ip_forward"
        if links.read_sysctl(key) != "1":
            if not os.path.exists(self._forward_file):
                with open(self._forward_file, "w") as f:
                    f.write(links.read_sysctl(key))
            links.write_sysctl(key, "1")

    def _sweep_stale_bpf(self) -> None:
        try:
            gone = stale_bpf.detach(self.config.nft_table)
        except OSError as e:
            log.warning("an older berthd's programs at the cgroup2 root: %s", e)
            return
        if any(gone.values()):
            log.info("detached an older berthd's socket load-balancer programs %s", gone)

    async def close(self, anything_running: bool) -> None:
        """berthd's clean stop: with no container running, berth's bridges, its table
        and the ip_forward it changed go too; otherwise they stay for the containers."""
        self.dns.close()
        self.ports.close()
        if not anything_running:
            for n in self.bridges():
                await self.run(links.delete_link, n.bridge)
            await self.run(nat.remove, self.config.nft_table)
            with contextlib.suppress(FileNotFoundError, OSError):
                with open(self._forward_file) as f:
                    old = f.read().strip()
                links.write_sysctl("net/ipv4/ip_forward", old)
                os.unlink(self._forward_file)
        self._reaper.shutdown(wait=True)  # the removals in flight are done
        self._unlinking.shutdown(wait=True)
        await self.run(links.close_host)  # after the cleanups still queued
        self._worker.shutdown(wait=True)

    async def sync_rules(self) -> None:
        bridges = [nat.Bridge(n.bridge, n.subnet, n.internal) for n in self.bridges()]
        forwards = []
        for a in self.att.values():
            ep = next(iter(a.endpoints.values()), None)
            if ep is None:
                continue
            br = self.by_id[ep.network_id].bridge
            forwards += [nat.Forward(m.proto, m.host_ip, m.host_port, br, ep.ip, m.container_port)
                         for m in a.ports]
        await self.run(nat.apply, nat.render(self.config.nft_table, bridges, forwards))

    # ------------------------------------------------------------- container life
    def attachment(self, cid: str) -> Attachment | None:
        return self.att.get(cid)

    def ns_path(self, cid: str) -> str:
        return os.path.join(self.config.netns_dir, cid)

    async def attach(self, cid: str, pid_of: Callable[[str], int], container_dir: str) -> None:
        """At start, before the task: the namespace, endpoints, ports, /etc files, DNS."""
        a = self.att.get(cid)
        if a is None or a.mode == "host":
            if a is not None:
                from . import prepare

                prepare.write_files(self, a, container_dir)
            return
        try:
            await self._attach(a, pid_of, container_dir)
        except BaseException:
            await self.release(cid)
            raise

    async def _attach(self, a: Attachment, pid_of: Callable[[str], int], container_dir: str) -> None:
        from . import prepare

        if a.mode.startswith("container:"):
            other = a.mode.split(":", 1)[1]
            pid = pid_of(other)
            await self.run(sandbox.make_namespace, a, self.ns_path(a.cid), f"/proc/{pid}/ns/net")
            prepare.copy_files(self.config, other, container_dir)
            self.store.save(a)
            return
        wanted = []
        for i, (name, cfg) in enumerate(a.wanted.items()):
            ipam_cfg = cfg.get("IPAMConfig") or {}
            wanted.append(sandbox.Wanted(self.get(name), f"eth{i}", default_route=i == 0,
                                         ip=ipam_cfg.get("IPv4Address") or "", mac=cfg.get("MacAddress") or ""))
        try:
            await self.run(sandbox.setup, a, self.ns_path(a.cid), wanted, self.ipam, self.config.veth_prefix)
        except (AddressInUse, PoolExhausted) as e:
            raise ApiError(400 if isinstance(e, AddressInUse) else 500, str(e)) from None
        finally:
            self.store.save(a)  # what was made: a crash now leaves nothing restore() cannot find
        if a.endpoints and (a.bindings or a.publish_all):
            try:
                sandbox.open_ports(a, self.ports)
            except PortInUse as e:
                ep = next(iter(a.endpoints.values()))
                raise ApiError(500, f"driver failed programming external connectivity on endpoint "
                                    f"{a.name} ({ep.endpoint_id}): {e}") from None
            self.store.save(a)
            await self.sync_rules()
        prepare.write_files(self, a, container_dir)
        await self.dns.serve(a)

    async def release(self, cid: str) -> None:
        """At exit, a failed start or remove: all of it, idempotent."""
        a = self.att.get(cid)
        if a is None or not (a.ns_path or a.endpoints or a.ports):
            return
        self.dns.stop(cid)
        had_ports = bool(a.ports)
        gone = await self.run(sandbox.detach, a, self.ipam, self.ports)  # the IPAM's flock: off the loop
        self.store.save(a)
        if had_ports:
            await self.sync_rules()
        # the veths and the namespace are gone before the exit is told, as dockerd's: a
        # client that looks at the host right after sees nothing of the container (and a
        # restart's setup of the same namespace path comes after this)
        await self.run_removal(sandbox.remove, gone, self.unlink)

    async def forget(self, cid: str) -> None:
        await self.release(cid)
        self.att.pop(cid, None)
        self.store.drop(cid)
