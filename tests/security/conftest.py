"""Two private engines side by side for the attacker's-eye tests: a berthd (as in
tests/daemon) and Debian's dockerd, each with the same image imported: busybox plus
/bin/probe, a static helper (probe.c) that makes each escape attempt and prints the errno.
Everything is removed afterwards: containers, mounts, cgroups, processes (by pid)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests import rootfs
from tests.daemon.conftest import Berthd, _cleanup, wait_until

IMAGE = "sec-probe"
HERE = os.path.dirname(os.path.abspath(__file__))


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
        return {**os.environ, "DOCKER_HOST": f"unix://{self.sock}",
                "DOCKER_CONFIG": os.path.join(self.root, "docker-cli")}

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(uds=self.sock), base_url="http://docker", timeout=60)


def _image_tar(work: str) -> str:
    root = rootfs.make_rootfs(os.path.join(work, "rootfs"))
    os.makedirs(os.path.join(root, "mnt"), exist_ok=True)  # where the mount probe tries a tmpfs
    subprocess.run(["gcc", "-static", "-O1", "-o", os.path.join(root, "bin", "probe"),
                    os.path.join(HERE, "probe.c")], check=True)
    tar = os.path.join(work, "image.tar")
    subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
    return tar


def _import(client: httpx.Client, tar: str) -> None:
    changes = urllib.parse.quote("ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin")
    with open(tar, "rb") as f:
        r = client.post(f"/images/create?fromSrc=-&repo={IMAGE}&tag=latest&changes={changes}", content=f.read(),
                        headers={"Content-Type": "application/x-tar"})
    assert r.status_code == 200 and b'"error' not in r.content, r.text


@pytest.fixture(scope="session")
def work() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="berth-security-")
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def image_tar(work: str) -> str:
    return _image_tar(work)


@pytest.fixture(scope="session")
def berthd(image_tar: str) -> Iterator[Berthd]:
    suffix = uuid.uuid4().hex[:8]
    root = tempfile.mkdtemp(prefix="berthd-sec-")
    os.chmod(root, 0o755)
    d = Berthd(root=root, group=f"berth-sec-{suffix}", cgroup_parent=f"berth-sec-{suffix}",
               extra_args=["--log-level", "info"])
    try:
        d.start()
        with d.client() as c:
            _import(c, image_tar)
        yield d
    finally:
        _cleanup(d)


@pytest.fixture(scope="session")
def dockerd(image_tar: str, work: str) -> Iterator[Dockerd]:
    root = os.path.join(work, "docker")
    os.makedirs(root)
    parent = f"berth-sec-docker-{uuid.uuid4().hex[:8]}"
    log = open(os.path.join(root, "dockerd.log"), "wb")
    proc = subprocess.Popen(
        ["dockerd", "--host", f"unix://{root}/docker.sock", "--data-root", f"{root}/data",
         "--exec-root", f"{root}/exec", "--pidfile", f"{root}/dockerd.pid", "--bridge", "none",
         "--iptables=false", "--ip6tables=false", "--containerd-namespace", f"sec{os.getpid()}",
         "--cgroup-parent", parent], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    d = Dockerd(root, parent, proc)
    try:
        assert wait_until(lambda: _pings(d), timeout=60), "dockerd did not come up"
        with d.client() as c:
            _import(c, image_tar)
        yield d
    finally:
        _stop_dockerd(d)


def _pings(d: Dockerd) -> bool:
    if d.proc.poll() is not None:
        raise RuntimeError("dockerd exited: " + open(os.path.join(d.root, "dockerd.log")).read()[-2000:])
    try:
        with d.client() as c:
            return c.get("/_ping").status_code == 200
    except httpx.TransportError:
        return False


def _stop_dockerd(d: Dockerd) -> None:
    try:
        with d.client() as c:
            for ctr in c.get("/containers/json", params={"all": 1}).json():
                c.delete(f"/containers/{ctr['Id']}", params={"force": 1})
    except httpx.HTTPError:
        pass
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
        subprocess.run(["umount", "-l", point], capture_output=True)
    for top in [os.path.join("/sys/fs/cgroup", h) for h in os.listdir("/sys/fs/cgroup")] + ["/sys/fs/cgroup"]:
        base = os.path.join(top, d.cgroup_parent)
        for sub, _, _ in sorted(os.walk(base), key=lambda w: -len(w[0])) if os.path.isdir(base) else []:
            try:
                os.rmdir(sub)
            except OSError:
                pass


@pytest.fixture(scope="session")
def outside() -> Iterator[int]:
    """A host process no container may reach (its pid is what the probes try to ptrace)."""
    proc = subprocess.Popen(["sleep", "100000"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def host_pidns() -> str:
    return str(os.stat("/proc/self/ns/pid").st_ino)


def probe(env: dict[str, str], flags: list[str], outside_pid: int, only: str = "") -> dict[str, str]:
    """Run /bin/probe in a fresh container through the docker CLI; {probe name: result}."""
    args = ["docker", "run", "--rm", "--network", "none", *flags, IMAGE, "probe", host_pidns(), str(outside_pid)]
    r = subprocess.run(args + ([only] if only else []), env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)
    assert out, r.stdout + r.stderr
    return out
