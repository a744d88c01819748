"""At create: what a container's network settings ask for, checked and recorded
(dockerd's errors for what cannot work), the OCI spec's network namespace, and the
/etc files it will see."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any, Callable

from ..config import Config
from ..http.errors import ApiError, bad_request
from . import etc, family, legacy, ports
from .store import Attachment

if TYPE_CHECKING:
    from .service import Networks


def network_mode(nets: Networks, mode: str) -> str:
    if mode in ("", "default"):
        return "bridge" if nets.find("bridge") is not None else "none"
    return mode


def prepare(nets: Networks, *, cid: str, name: str, config: dict[str, Any], host: dict[str, Any],
            networking: dict[str, Any] | None, image_cfg: dict[str, Any],
            lookup: Callable[[str], str]) -> Attachment:
    """The container's Attachment (saved), HostConfig.NetworkMode and Config.ExposedPorts
    filled in as dockerd shows them."""
    asked = host.get("NetworkMode") or ""
    mode = network_mode(nets, asked)
    endpoints = dict((networking or {}).get("EndpointsConfig") or {})
    if asked in ("", "default") and "default" in endpoints:  # the CLI's name for the default network
        endpoints[mode] = endpoints.pop("default")
    default_hostname = config.get("Hostname") == cid[:12]
    if mode.startswith("container:"):
        if not default_hostname:
            raise bad_request("conflicting options: hostname and the network mode")
        mode = "container:" + lookup(mode.split(":", 1)[1])
    wanted: dict[str, dict[str, Any]] = {}
    if mode not in ("host", "none") and not mode.startswith("container:"):
        net = nets.get(mode)  # docker's 404 "network X not found"
        if net.driver != "bridge":
            raise bad_request(f"network {mode} is not a bridge network")  # host/none by id
        wanted[net.name] = dict(endpoints.pop(mode, None) or endpoints.pop(net.name, None)
                                or endpoints.pop(net.id, None) or {})
        for ref, cfg in endpoints.items():
            other = nets.get(ref)
            if other.driver != "bridge":
                raise bad_request("container cannot be connected to multiple networks with one of "
                                  "the networks in private (none) mode")
            wanted[other.name] = dict(cfg or {})
        if config.get("MacAddress"):
            wanted[net.name].setdefault("MacAddress", config["MacAddress"])
        for netname, cfg in wanted.items():
            family.endpoint(cfg)
            ipv4 = (cfg.get("IPAMConfig") or {}).get("IPv4Address")
            if ipv4 and nets.get(netname).predefined:
                raise bad_request("user specified IP address is supported on user defined networks only")
            if cfg.get("Aliases") and nets.get(netname).predefined:
                raise bad_request("network-scoped alias is supported only for containers in user "
                                  "defined networks")
    elif endpoints and mode == "host":
        raise bad_request("container sharing network namespace with another container or host "
                          "cannot be connected to any other network")
    bindings = ports.validate(host.get("PortBindings") or {})
    exposed = {**(image_cfg.get("ExposedPorts") or {}), **(config.get("ExposedPorts") or {})}
    for key in list(exposed):
        ports.parse_key(key)
    for key in bindings:
        exposed.setdefault(key, {})
    if exposed:
        config["ExposedPorts"] = {k: {} for k in exposed}
    if mode == "host" and default_hostname:
        config["Hostname"] = etc.host_hostname()
    host["NetworkMode"] = mode
    a = Attachment(cid=cid, name=name.lstrip("/"), mode=mode, wanted=wanted,
                   bindings=bindings if wanted else {}, publish_all=bool(host.get("PublishAllPorts")),
                   exposed=[k if "/" in k else k + "/tcp" for k in exposed],
                   hostname=config["Hostname"], extra_hosts=list(host.get("ExtraHosts") or []),
                   links=list(host.get("Links") or []))
    a.dns, a.dns_search, a.dns_options = (list(host.get(k) or []) for k in ("Dns", "DnsSearch", "DnsOptions"))
    nets.att[cid] = a
    nets.store.save(a)
    return a


def adjust_spec(nets: Networks, oci: dict[str, Any], cid: str,
                env_of: Callable[[str], list[str]] = lambda _cid: []) -> None:
    """The network namespace berthd makes (by path), none for the host network; the
    environment of legacy links (env_of: a linked container's Config.Env)."""
    a = nets.att.get(cid)
    if a is None:
        return
    oci["process"]["env"] = [*oci["process"].get("env", []), *legacy.link_env(nets, a, env_of)]
    spaces = [ns for ns in oci["linux"]["namespaces"] if ns["type"] != "network"]
    if a.mode != "host":
        spaces.append({"type": "network", "path": nets.ns_path(cid)})
    oci["linux"]["namespaces"] = spaces


def write_files(nets: Networks, a: Attachment, container_dir: str) -> None:
    entries: list[tuple[str, str]] = []
    if a.mode != "host":
        for ep in a.endpoints.values():
            entries.append((ep.ip, a.hostname))
    entries += etc.extra_hosts(a.extra_hosts)
    entries += link_hosts(nets, a)
    embedded = any(not nets.by_id[ep.network_id].predefined for ep in a.endpoints.values()) and not a.dns
    if a.mode == "host":
        resolv = etc.resolv_conf([], [], [], False) if not a.dns else etc.resolv_conf(a.dns, [], [], False)
    else:
        resolv = etc.resolv_conf(a.dns, a.dns_search, a.dns_options, embedded)
    etc.write(container_dir, a.hostname, etc.hosts(entries, a.mode == "host"), resolv)


def link_hosts(nets: Networks, a: Attachment) -> list[tuple[str, str]]:
    """--link NAME:ALIAS: the linked container's address under its alias, name and id."""
    out = []
    for link in a.links:
        target, _, alias = link.partition(":")
        other = next((o for o in nets.att.values() if o.name == target.lstrip("/")), None)
        if other is None:
            continue
        ep = next(iter(other.endpoints.values()), None)
        if ep is not None:
            names = [n for n in dict.fromkeys([alias.split("/")[-1] or other.name, other.name, other.cid[:12]])]
            out.append((ep.ip, " ".join(names)))
    return out


def copy_files(config: Config, other_cid: str, container_dir: str) -> None:
    """container:NAME shares the other container's hosts, hostname and resolv.conf."""
    src = os.path.join(config.containers_dir, other_cid)
    for name in ("hosts", "hostname", "resolv.conf"):
        try:
            with open(os.path.join(src, name)) as f, open(os.path.join(container_dir, name), "w") as g:
                shutil.copyfileobj(f, g)
        except OSError as e:
            raise ApiError(500, f"joining the network of {other_cid}: {e}") from None
