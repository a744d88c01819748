"""A private Debian dockerd, the peer tests compare berth with: its own socket, roots,
containerd namespace and cgroup parent, no bridge and no iptables (the host's network
is left alone). stop() removes its containers and networks, then ends it by PID and removes its
mounts, cgroups and roots."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass

import httpx


@dataclass
class Dockerd:
    root: str
    cgroup_parent: str
    proc: subprocess.Popen

    @property
    def sock(self) -> str:
        return os.path.join(self.root, "docker.sock")

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": f"unix://{self.sock}", "DOCKER_CONFIG": os.path.join(self.root, "cli")}

    def docker(self, *args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
        """The docker CLI against this dockerd (text output unless text=False)."""
        kw.setdefault("text", True)
        return subprocess.run(["docker", *args], env=self.env, capture_output=True, timeout=timeout, **kw)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(uds=self.sock), base_url="http://docker", timeout=60)


def start(extra: list[str] | None = None) -> Dockerd:
    """`extra`: more dockerd flags (a test's own bridge or address pool)."""
    root = tempfile.mkdtemp(prefix="berth-dockerd-")
    os.chmod(root, 0o711)  # --userns-remap: dockerd wants its roots' parents o+x for the remapped root
    suffix = uuid.uuid4().hex[:8]
    log = open(os.path.join(root, "dockerd.log"), "wb")
    parent = f"berth-test-dockerd-{suffix}"
    proc = subprocess.Popen(
        ["dockerd", "--host", f"unix://{root}/docker.sock", "--data-root", f"{root}/data",
         "--exec-root", f"{root}/exec", "--pidfile", f"{root}/dockerd.pid", "--bridge", "none",
         "--iptables=false", "--ip6tables=false", "--containerd-namespace", f"berthtest{suffix}",
         "--cgroup-parent", parent, *(extra or [])], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    d = Dockerd(root, parent, proc)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with open(os.path.join(root, "dockerd.log"), errors="replace") as f:
                tail = f.read()[-2000:]
            stop(d)  # removes the root, and the log with it
            raise RuntimeError("dockerd exited: " + tail)
        try:
            with d.client() as c:
                if c.get("/_ping").status_code == 200:
                    return d
        except httpx.TransportError:
            time.sleep(0.1)
    stop(d)
    raise RuntimeError("dockerd did not answer")


def stop(d: Dockerd) -> None:
    if d.proc.poll() is None:
        try:
            with d.client() as c:
                for ctr in c.get("/containers/json", params={"all": 1}).json():
                    c.delete(f"/containers/{ctr['Id']}", params={"force": 1})
                # its user networks' bridges (br-ID) would outlive it on the host
                for net in c.get("/networks").json():
                    if net["Name"] not in ("bridge", "host", "none"):
                        c.delete(f"/networks/{net['Id']}")
        except httpx.HTTPError:
            pass
        d.proc.send_signal(signal.SIGTERM)
        try:
            d.proc.wait(30)
        except subprocess.TimeoutExpired:
            d.proc.kill()
            d.proc.wait()
    with open("/proc/mounts") as f:
        points = [line.split()[1] for line in f if line.split()[1].startswith(d.root)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
    shutil.rmtree(d.root, ignore_errors=True)
    for top in [os.path.join("/sys/fs/cgroup", h) for h in os.listdir("/sys/fs/cgroup")] + ["/sys/fs/cgroup"]:
        base = os.path.join(top, d.cgroup_parent)
        for sub, _, _ in sorted(os.walk(base), key=lambda w: -len(w[0])) if os.path.isdir(base) else []:
            try:
                os.rmdir(sub)
            except OSError:
                pass
