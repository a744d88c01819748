"""A private Debian dockerd for interop tests: its own socket, roots, containerd
namespace and cgroup parent, no bridge and no iptables (the host's network is left
alone); stopped by PID, its mounts and cgroups removed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

import httpx


@dataclass
class Dockerd:
    root: str
    proc: subprocess.Popen

    @property
    def sock(self) -> str:
        return os.path.join(self.root, "docker.sock")

    @property
    def cgroup_parent(self) -> str:
        return f"berth-test-dockerd-{os.getpid()}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": f"unix://{self.sock}", "DOCKER_CONFIG": os.path.join(self.root, "cli")}

    def docker(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", *args], env=self.env(), capture_output=True, timeout=120, **kw)


def start() -> Dockerd:
    root = tempfile.mkdtemp(prefix="berth-dockerd-")
    log = open(os.path.join(root, "dockerd.log"), "wb")
    d = Dockerd(root, None)  # type: ignore[arg-type]
    d.proc = subprocess.Popen(
        ["dockerd", "--host", f"unix://{d.sock}", "--data-root", f"{root}/data", "--exec-root", f"{root}/exec",
         "--pidfile", f"{root}/dockerd.pid", "--bridge", "none", "--iptables=false", "--ip6tables=false",
         "--containerd-namespace", f"berthtest{os.getpid()}", "--cgroup-parent", d.cgroup_parent],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if d.proc.poll() is not None:
            raise RuntimeError("dockerd exited")
        try:
            with httpx.Client(transport=httpx.HTTPTransport(uds=d.sock)) as c:
                if c.get("http://docker/_ping").status_code == 200:
                    return d
        except httpx.TransportError:
            time.sleep(0.1)
    stop(d)
    raise RuntimeError("dockerd did not answer")


def stop(d: Dockerd) -> None:
    if d.proc.poll() is None:
        d.proc.send_signal(signal.SIGTERM)
        try:
            d.proc.wait(30)
        except subprocess.TimeoutExpired:
            d.proc.kill()
            d.proc.wait()
    with open("/proc/mounts") as f:
        points = [line.split()[1] for line in f if line.split()[1].startswith(d.root)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], stderr=subprocess.DEVNULL)
    shutil.rmtree(d.root, ignore_errors=True)
    for top in [os.path.join("/sys/fs/cgroup", x) for x in os.listdir("/sys/fs/cgroup")] + ["/sys/fs/cgroup"]:
        parent = os.path.join(top, d.cgroup_parent)
        for dirpath, _, _ in sorted(os.walk(parent), key=lambda w: len(w[0]), reverse=True):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
