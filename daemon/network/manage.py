"""The networks API's verbs: create, remove, connect, disconnect, prune, list filters;
dockerd's answers and wording where it refuses."""

from __future__ import annotations

import ipaddress
import re
import secrets
from typing import TYPE_CHECKING, Any

from berth.common.timefmt import rfc3339_nano

from ..http.errors import ApiError, bad_request, conflict
from . import family, links, pool, prepare, sandbox
from .ipam import AddressInUse, PoolExhausted
from .store import Network

if TYPE_CHECKING:
    from .service import Networks

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def _forbidden(message: str) -> ApiError:
    return ApiError(403, message)


async def create(nets: Networks, body: dict[str, Any]) -> Network:
    name = body.get("Name") or ""
    if not name:
        raise bad_request("invalid name: network name must not be empty")
    if not _NAME.match(name):
        raise bad_request(f'invalid name "{name}": must match [a-zA-Z0-9][a-zA-Z0-9_.-]')
    driver = body.get("Driver") or "bridge"
    if name in ("bridge", "host", "none") or any(n.name == name for n in nets.by_id.values()):
        if name in ("host", "none", "bridge") and nets.find(name) is not None and nets.get(name).predefined:
            raise _forbidden(f"{name} is a pre-defined network and cannot be created")
        raise conflict(f"network with name {name} already exists")
    if driver in ("host", "null"):
        raise _forbidden(f'only one instance of "{driver}" network is allowed')
    if driver != "bridge":
        raise ApiError(404, f"plugin \"{driver}\" not found")
    if body.get("EnableIPv6"):
        raise bad_request("IPv6 networks are not supported by berth (EnableIPv6)")
    ipam = body.get("IPAM") or {}
    if (ipam.get("Driver") or "default") != "default":
        raise ApiError(404, f"plugin \"{ipam['Driver']}\" not found")
    configs = [c for c in ipam.get("Config") or [] if c]
    if len(configs) > 1:
        raise bad_request("berth networks have one IPv4 subnet")
    used = [n.subnet for n in nets.bridges() if n.subnet]
    subnet = gateway = ""
    if configs:
        cfg = configs[0]
        try:
            net = ipaddress.ip_network(cfg.get("Subnet") or "", strict=False)
        except ValueError:
            raise bad_request(f"invalid subnet {cfg.get('Subnet')!r}") from None
        if net.version != 4:
            raise bad_request("IPv6 networks are not supported by berth (EnableIPv6)")
        if str(net) != cfg.get("Subnet"):
            raise bad_request(f"invalid network config: invalid subnet {cfg.get('Subnet')}: "
                              "it should be " + str(net))
        if any(net.overlaps(ipaddress.ip_network(u)) for u in used):
            raise _forbidden("invalid pool request: Pool overlaps with other one on this address space")
        subnet = str(net)
        gateway = cfg.get("Gateway") or pool.gateway_of(subnet)
        if ipaddress.ip_address(gateway) not in net:
            raise _forbidden(f"no matching subnet for gateway {gateway}")
    else:
        try:
            subnet = await nets.run(pool.pick, nets.config.default_address_pools, used)
        except ValueError as e:
            raise _forbidden(str(e)) from None
        gateway = pool.gateway_of(subnet)
    nid = secrets.token_hex(32)
    options = dict(body.get("Options") or {})
    bridge = options.get("com.docker.network.bridge.name") or "br-" + nid[:12]
    if len(bridge) > 15 or any(n.bridge == bridge for n in nets.bridges()):
        raise _forbidden(f"bridge name {bridge} is too long or already in use")
    n = Network(id=nid, name=name, driver="bridge", created=rfc3339_nano(), subnet=subnet, gateway=gateway,
                bridge=bridge, internal=bool(body.get("Internal")), attachable=bool(body.get("Attachable")),
                labels=dict(body.get("Labels") or {}), options=options,
                ipam_options=dict(ipam.get("Options") or {}))
    await nets.run(links.ensure_bridge, bridge, gateway, n.prefixlen)
    nets.by_id[nid] = n
    nets.store.save_network(n)
    await nets.sync_rules()
    return n


async def remove(nets: Networks, ref: str) -> None:
    n = nets.get(ref)
    if n.predefined:
        raise _forbidden(f"{n.name} is a pre-defined network and cannot be removed")
    if nets.members(n.id):
        raise _forbidden(f"error while removing network: network {n.name} id {n.id} has active endpoints")
    del nets.by_id[n.id]
    nets.store.drop_network(n)
    nets.ipam.drop(n.id)
    await nets.run(nets.unlink, n.bridge)
    await nets.sync_rules()


async def prune(nets: Networks, label_filters: list[str]) -> list[str]:
    gone = []
    for n in list(nets.by_id.values()):
        if n.predefined or any(n.name in a.wanted for a in nets.att.values()):
            continue
        if label_filters and not all(_label_matches(n, f) for f in label_filters):
            continue
        await remove(nets, n.id)
        gone.append(n.name)
    return gone


def _label_matches(n: Network, f: str) -> bool:
    key, eq, value = f.partition("=")
    return key in n.labels and (not eq or n.labels[key] == value)


def matches(n: Network, filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "name" and not any(v in n.name for v in values):
            return False
        if key == "id" and not any(n.id.startswith(v) for v in values):
            return False
        if key == "driver" and n.driver not in values:
            return False
        if key == "scope" and "local" not in values:
            return False
        if key == "type" and ("builtin" if n.predefined else "custom") not in values:
            return False
        if key == "label" and not all(_label_matches(n, v) for v in values):
            return False
        if key not in ("name", "id", "driver", "scope", "type", "label", "dangling"):
            raise bad_request(f"invalid filter '{key}'")
    return True


async def connect(nets: Networks, ref: str, cid: str, cfg: dict[str, Any], running: bool,
                  container_dir: str) -> None:
    n = nets.get(ref)
    a = nets.att.get(cid)
    if a is None or a.mode == "host" or a.mode.startswith("container:"):
        raise _forbidden("container sharing network namespace with another container or host cannot be "
                         "connected to any other network")
    if n.driver != "bridge":
        raise _forbidden("container cannot be disconnected from host network or connected to host network")
    if a.mode == "none":
        raise _forbidden("container cannot be connected to multiple networks with one of the networks in "
                         "private (none) mode")
    if n.name in a.wanted:
        raise _forbidden(f"endpoint with name {a.name} already exists in network {n.name}")
    cfg = dict(cfg or {})
    family.endpoint(cfg)
    if n.predefined and ((cfg.get("IPAMConfig") or {}).get("IPv4Address") or cfg.get("Aliases")):
        raise bad_request("user specified IP address is supported on user defined networks only")
    a.wanted[n.name] = cfg
    if running and a.ns_path:
        try:
            await nets.run(lambda: sandbox.join(
                a, n, ipam=nets.ipam, veth_prefix=nets.config.veth_prefix,
                ifname=_next_ifname(a), default_route=not a.endpoints,
                wanted_ip=(cfg.get("IPAMConfig") or {}).get("IPv4Address") or "",
                wanted_mac=cfg.get("MacAddress") or ""))
        except (AddressInUse, PoolExhausted) as e:
            del a.wanted[n.name]
            raise bad_request(str(e)) from None
        prepare.write_files(nets, a, container_dir)
        await nets.dns.serve(a)
    nets.store.save(a)


def _next_ifname(a: Any) -> str:
    taken = {ep.ifname for ep in a.endpoints.values()}
    return next(f"eth{i}" for i in range(len(taken) + 1) if f"eth{i}" not in taken)


async def disconnect(nets: Networks, ref: str, cid: str, container_dir: str) -> None:
    n = nets.get(ref)
    a = nets.att.get(cid)
    if a is not None and a.mode == n.name and n.driver in ("host", "null"):
        raise _forbidden("container cannot be disconnected from host network or connected to host network")
    if a is None or n.name not in a.wanted:
        raise _forbidden(f"container {cid} is not connected to network {n.name}")
    del a.wanted[n.name]
    if n.id in a.endpoints:
        await nets.run(sandbox.leave, a, n.id, nets.ipam)
        if a.ns_path:
            prepare.write_files(nets, a, container_dir)
        if not any(not nets.by_id[x].predefined for x in a.endpoints):
            nets.dns.stop(cid)
    # NetworkMode stays what it was, as in dockerd: a container left on no network keeps
    # its loopback and may be connected again (docker-compose disconnects, then connects
    # with its aliases, each container it creates)
    nets.store.save(a)
