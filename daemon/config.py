"""berthd's settings: every path is a flag so that tests run private engines."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

from berth.common import DATA_ROOT, DEFAULT_HOST, EXEC_ROOT, RUNTIME_LIBRARY, VERSION

from .security.settings import DaemonSecurity
from .security.tls import TLSSettings

API_VERSION = "1.45"
MIN_API_VERSION = "1.24"
ENGINE_VERSION = VERSION


@dataclass
class Config:
    host: str = DEFAULT_HOST  # "": no unix socket of berthd's own (only fd:// ones)
    activation: list[str] = field(default_factory=list)  # -H fd://ADDR: ADDR each ("" for all; daemon/system/activation.py)
    data_root: str = DATA_ROOT
    exec_root: str = EXEC_ROOT
    group: str = "berth"
    pidfile: str | None = None
    config_file: str = "/etc/berth/daemon.json"  # --config-file: read again on SIGHUP (daemon/system/reload.py)
    containerd: str | None = None  # None: berthd starts and supervises its own
    cgroup_parent: str = "berth"
    default_runtime: str = RUNTIME_LIBRARY
    runtimes: dict[str, str] = field(default_factory=dict)  # name -> runc-compatible binary
    log_level: str = "info"
    insecure_registries: list[str] = field(default_factory=list)  # host[:port] or CIDR (--insecure-registry)
    registry_mirrors: list[str] = field(default_factory=list)  # http(s)://HOST[:PORT]/ for docker.io (--registry-mirror)
    security: DaemonSecurity = field(default_factory=DaemonSecurity)  # --seccomp-profile, --no-new-privileges, ...
    tls: TLSSettings | None = None  # a tcp:// host: --tlsverify and its files
    # networking (daemon/network/): every name and subnet is a flag, so that test
    # engines running side by side never share a bridge, an address or a rule
    bridge: str = "berth0"  # dockerd's -b/--bridge; "none": no default bridge network
    bip: str = ""  # the default bridge's gateway address/prefix; "": picked from the pools
    default_address_pools: list[tuple[str, int]] = field(
        default_factory=lambda: [("10.199.0.0/16", 24), ("10.200.0.0/16", 24)])
    veth_prefix: str = "vb"  # host-side veth names: prefix + hex (15 characters at most)
    nft_table: str = "berth"  # berth's own nftables table (ip family); nothing else is touched
    init: bool = False  # dockerd's --init: every container without HostConfig.Init gets the init
    init_path: str = ""  # dockerd's --init-path; "": Debian's tini (daemon/containers/lifecycle.py)

    @property
    def socket_path(self) -> str:
        return self.host.removeprefix("unix://")

    @property
    def containers_dir(self) -> str:
        return os.path.join(self.data_root, "containers")

    @property
    def containerd_address(self) -> str:
        return self.containerd or os.path.join(self.exec_root, "containerd.sock")

    # The berth-containerd berthd starts keeps its data under berthd's roots.
    @property
    def containerd_root(self) -> str:
        return os.path.join(self.data_root, "containerd")

    @property
    def containerd_state(self) -> str:
        return os.path.join(self.exec_root, "containerd")

    @property
    def network_dir(self) -> str:
        return os.path.join(self.data_root, "network")

    @property
    def netns_dir(self) -> str:
        return os.path.join(self.exec_root, "netns")

    def runtime_binary(self, name: str) -> str:
        """'' means berth-runc through its library fast path (proto: Container.runtime).

        "runc" is there without --add-runtime whenever runc is installed, as in dockerd.
        """
        if name in ("", RUNTIME_LIBRARY, "berth-runc"):
            return ""
        if name == "runc" and name not in self.runtimes:
            path = shutil.which("runc")
            if path is None:
                raise KeyError(name)
            return path
        return self.runtimes[name]

    def runtime_names(self) -> list[str]:
        return sorted({RUNTIME_LIBRARY, *self.runtimes, *(["runc"] if shutil.which("runc") else [])})
