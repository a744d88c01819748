"""A private berthd for the session: its own roots, socket, group and cgroup parent,
with the real chain below it (managed berth-containerd, shims, berth-runc)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.host import alive, private_network, remove_network_leftovers

BERTHD = os.path.join(os.path.dirname(sys.executable), "berthd")


def _pids_mentioning(text: str) -> list[int]:
    """Processes whose command line names our private root (containerd, shims)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    out.append(int(d))
        except OSError:
            pass
    return out


def wait_until(check, timeout: float = 20.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Polls for a condition the test then asserts (no timed assertions)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@dataclass
class Berthd:
    root: str
    group: str
    cgroup_parent: str
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    net: dict[str, str] = field(default_factory=dict)  # private bridge, veth prefix, table, pool
    net_args: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.net:
            self.net_args, self.net = private_network(uuid.uuid4().hex)

    @property
    def sock(self) -> str:
        return os.path.join(self.root, "berth.sock")

    @property
    def data_root(self) -> str:
        return os.path.join(self.root, "data")

    @property
    def exec_root(self) -> str:
        return os.path.join(self.root, "exec")

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_CONFIG": os.path.join(self.root, "docker-cli")}

    def args(self) -> list[str]:
        return [BERTHD, "-H", self.host, "--data-root", self.data_root, "--exec-root", self.exec_root,
                "--group", self.group, "--cgroup-parent", self.cgroup_parent,
                "--pidfile", os.path.join(self.root, "berthd.pid"),
                "--add-runtime", "runc=/usr/sbin/runc", *self.net_args, *self.extra_args]

    def start(self) -> None:
        log = open(os.path.join(self.root, "berthd.log"), "ab")
        self.proc = subprocess.Popen(self.args(), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        ok = wait_until(self._answers, timeout=60)
        assert ok, "berthd did not come up:\n" + self.log_tail()

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError("berthd exited:\n" + self.log_tail())
        try:
            with self.client() as c:
                return c.get("/_ping").status_code == 200
        except httpx.TransportError:
            return False

    def log_tail(self) -> str:
        with open(os.path.join(self.root, "berthd.log"), errors="replace") as f:
            return f.read()[-4000:]

    def client(self, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(uds=self.sock), base_url="http://berth",
                            timeout=timeout)

    def containerd_pid(self) -> int:
        with open(os.path.join(self.exec_root, "berth-containerd.pid")) as f:
            return int(f.read())

    def kill9(self, containerd: bool) -> None:
        """The crash: berthd (and its managed containerd) die without any cleanup."""
        ctrd = self.containerd_pid()
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        if containerd:
            os.kill(ctrd, signal.SIGKILL)
            wait_until(lambda: not alive(ctrd))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def docker(self, *args: str, user: str | None = None, check: bool = False,
               timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = ["docker", *args]
        if user:
            cmd = ["runuser", "-u", user, "--", *cmd]
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=check, timeout=timeout)


def _cleanup(d: Berthd) -> None:
    if d.proc is not None and d.proc.poll() is None:
        try:
            with d.client() as c:
                for ctr in c.get("/containers/json", params={"all": 1}).json():
                    c.delete(f"/containers/{ctr['Id']}", params={"force": 1})
        except httpx.HTTPError:
            pass
    d.stop()
    for hier in os.listdir("/sys/fs/cgroup"):  # container processes a failed test left behind
        for sub, _, files in os.walk(os.path.join("/sys/fs/cgroup", hier, d.cgroup_parent)):
            if "cgroup.procs" in files:
                with open(os.path.join(sub, "cgroup.procs")) as f:
                    for pid in f.read().split():
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except ProcessLookupError:
                            pass
    for pid in _pids_mentioning(d.root):  # a containerd or shim left by a test that failed
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    remove_network_leftovers(d.net, d.exec_root)
    with open("/proc/mounts") as f:
        mounts = [line.split()[1] for line in f if d.root in line]
    for m in reversed(mounts):
        subprocess.run(["umount", "-l", m], capture_output=True)
    for hier in os.listdir("/sys/fs/cgroup"):
        base = os.path.join("/sys/fs/cgroup", hier, d.cgroup_parent)
        if os.path.isdir(base):
            for sub, _dirs, _ in sorted(os.walk(base), key=lambda t: -len(t[0])):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass
    subprocess.run(["groupdel", d.group], capture_output=True)
    shutil.rmtree(d.root, ignore_errors=True)


@contextlib.contextmanager
def private_berthd(prefix: str = "berthd-test-", extra_args: list[str] | None = None) -> Iterator[Berthd]:
    """A started berthd of the test's own (roots, socket, group, cgroup parent, network
    names), removed with everything it made when the block ends."""
    suffix = uuid.uuid4().hex[:8]
    root = tempfile.mkdtemp(prefix=prefix)
    os.chmod(root, 0o755)  # the test users must reach the socket
    d = Berthd(root=root, group=f"berth-test-{suffix}", cgroup_parent=f"berth-test-{suffix}",
               extra_args=extra_args or [])
    try:
        d.start()
        yield d
    finally:
        _cleanup(d)


@pytest.fixture(scope="session")
def berthd() -> Iterator[Berthd]:
    with private_berthd() as d:
        yield d


@pytest.fixture
def api(berthd: Berthd) -> httpx.Client:
    with berthd.client() as c:
        yield c


def run_container(api: httpx.Client, body: dict, name: str | None = None) -> str:
    r = api.post("/containers/create", json=body, params={"name": name} if name else None)
    assert r.status_code == 201, r.text
    cid = r.json()["Id"]
    r = api.post(f"/containers/{cid}/start")
    assert r.status_code == 204, r.text
    return cid
