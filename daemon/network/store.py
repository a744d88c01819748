"""Networks and each container's attachments, as berthd keeps them on disk.

<data-root>/network/networks/<id>.json per network (the predefined bridge, host and
none among them, so that their ids stay the same across restarts, as dockerd's do),
<data-root>/network/containers/<cid>.json per container: what it asked for
(network mode, per-network endpoint settings, published ports) and what it has while
it runs (namespace, endpoints, host ports), written atomically at each change so a
restarted berthd knows what to keep and what to clean up."""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from berth.common.files import read_json, write_json_atomic


@dataclass
class Network:
    id: str
    name: str
    driver: str  # bridge | host | null
    created: str
    subnet: str = ""
    gateway: str = ""
    bridge: str = ""  # the Linux bridge's name (driver bridge)
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    ipam_options: dict[str, str] = field(default_factory=dict)
    enable_ipv6: bool = False
    predefined: bool = False

    @property
    def prefixlen(self) -> int:
        return int(self.subnet.split("/")[1]) if self.subnet else 0


@dataclass
class Endpoint:
    """A container's place on one network while it runs."""
    network_id: str
    endpoint_id: str
    ifname: str
    host_if: str
    ip: str
    prefixlen: int
    gateway: str
    mac: str


@dataclass
class PortMap:
    proto: str  # tcp | udp
    container_port: int
    host_ip: str
    host_port: int


@dataclass
class Attachment:
    cid: str
    name: str  # the container's name, without docker's "/"
    mode: str  # bridge | host | none | container:<id> | <network name or id>
    # network name -> docker's EndpointSettings as asked for (Aliases, IPAMConfig, Links, MacAddress)
    wanted: dict[str, dict[str, Any]] = field(default_factory=dict)
    # "80/tcp" -> [{"HostIp": ..., "HostPort": ...}] as asked (HostConfig.PortBindings, -P resolved at start)
    bindings: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    publish_all: bool = False
    exposed: list[str] = field(default_factory=list)
    hostname: str = ""
    extra_hosts: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    # live while running
    ns_path: str = ""
    endpoints: dict[str, Endpoint] = field(default_factory=dict)  # network id -> endpoint
    ports: list[PortMap] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Attachment:
        d = dict(d)
        d["endpoints"] = {k: Endpoint(**v) for k, v in (d.get("endpoints") or {}).items()}
        d["ports"] = [PortMap(**p) for p in d.get("ports") or []]
        return cls(**d)


class NetworkStore:
    def __init__(self, root: str) -> None:
        self.net_dir = os.path.join(root, "networks")
        self.att_dir = os.path.join(root, "containers")
        for d in (self.net_dir, self.att_dir):
            os.makedirs(d, mode=0o700, exist_ok=True)

    def load_networks(self) -> list[Network]:
        out = []
        for entry in sorted(os.listdir(self.net_dir)):
            if entry.endswith(".json"):
                with contextlib.suppress(OSError, ValueError, TypeError):
                    out.append(Network(**read_json(os.path.join(self.net_dir, entry))))
        return out

    def save_network(self, n: Network) -> None:
        write_json_atomic(os.path.join(self.net_dir, n.id + ".json"), asdict(n), 0o600)

    def drop_network(self, n: Network) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.net_dir, n.id + ".json"))

    def load_attachments(self) -> list[Attachment]:
        out = []
        for entry in sorted(os.listdir(self.att_dir)):
            if entry.endswith(".json"):
                with contextlib.suppress(OSError, ValueError, TypeError):
                    out.append(Attachment.from_json(read_json(os.path.join(self.att_dir, entry))))
        return out

    def save(self, a: Attachment) -> None:
        write_json_atomic(os.path.join(self.att_dir, a.cid + ".json"), a.to_json(), 0o600)

    def drop(self, cid: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.att_dir, cid + ".json"))
