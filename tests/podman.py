"""A private rootful podman (Debian's 4.3), another peer that runs what berth builds:
its own --root, --runroot and tmpdir under one temp dir, cgroupfs under a cgroup
parent of its own, file events (no journald here). close() removes its containers and
images, then its mounts, cgroups and roots.

On these VMs podman cannot run a container with its default rlimits: rootful, it asks
for RLIMIT_NOFILE and RLIMIT_NPROC of 1048576, above the hard limits, and raising a
hard limit needs CAP_SYS_RESOURCE, which the machine's capability bounding set lacks
(runc: "error setting rlimit type 7: operation not permitted"). run() therefore gives
both limits explicitly, below the hard ones.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass

_RUN_DIR = "/run/containers"
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]


@dataclass
class Podman:
    root: str
    cgroup_parent: str
    made_run_dir: bool = False  # /run/containers was not there: podman makes it (netavark's, empty)

    def podman(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        cmd = ["podman", "--root", f"{self.root}/storage", "--runroot", f"{self.root}/run", "--tmpdir",
               f"{self.root}/tmp", "--network-config-dir", f"{self.root}/networks", "--cgroup-manager", "cgroupfs",
               "--events-backend", "file", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """podman run --rm, no network, the rlimits this machine allows (see above)."""
        return self.podman("run", "--rm", "--network", "none", "--cgroup-parent", self.cgroup_parent, *ULIMITS,
                           *args)

    def close(self) -> None:
        self.podman("rm", "-a", "-f")
        self.podman("rmi", "-a", "-f")
        with open("/proc/mounts") as f:
            points = [line.split()[1] for line in f if line.split()[1].startswith(self.root)]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
        if self.made_run_dir:
            for path in (_RUN_DIR + "/networks", _RUN_DIR):
                try:
                    os.rmdir(path)
                except OSError:
                    pass
        for top in ["/sys/fs/cgroup", *(os.path.join("/sys/fs/cgroup", h) for h in os.listdir("/sys/fs/cgroup"))]:
            base = os.path.join(top, self.cgroup_parent.lstrip("/"))
            for sub, _, _ in sorted(os.walk(base), key=lambda w: -len(w[0])) if os.path.isdir(base) else []:
                try:
                    os.rmdir(sub)
                except OSError:
                    pass


def leftovers(p: Podman) -> list[str]:
    """What of `p` is still there after close(): mounts, cgroups, processes (conmon)."""
    with open("/proc/mounts") as f:
        out = [line.split()[1] for line in f if p.root in line.split()[1]]
    tops = ["/sys/fs/cgroup", *(os.path.join("/sys/fs/cgroup", h) for h in os.listdir("/sys/fs/cgroup"))]
    out += [d for d in (os.path.join(t, p.cgroup_parent.lstrip("/")) for t in tops) if os.path.exists(d)]
    # podman's network backend (netavark) would add iptables chains: a run with --network
    # none must leave the host's firewall alone
    nat = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True).stdout
    out += [line for line in nat.splitlines() if "NETAVARK" in line]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if p.root.encode() in f.read():
                    out.append(f"process {pid}")
        except OSError:
            pass
    return out


def start() -> Podman:
    root = tempfile.mkdtemp(prefix="berth-podman-")
    os.mkdir(os.path.join(root, "tmp"))
    return Podman(root, f"/berth-test-podman-{uuid.uuid4().hex[:8]}", made_run_dir=not os.path.exists(_RUN_DIR))
