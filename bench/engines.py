"""Private engines for benchmarks: Debian's dockerd and berthd, each on its own
socket and roots under one temp dir, started and stopped by this process."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import rootfs  # noqa: E402  (tests/rootfs.py: busybox rootfs made offline)

BIN = os.path.dirname(sys.executable)


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=120)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self._path)


def api(sock: str, method: str, path: str, body: bytes | None = None,
        content_type: str = "application/json") -> tuple[int, bytes]:
    conn = _UnixHTTP(sock)
    conn.request(method, path, body=body, headers={"Content-Type": content_type} if body else {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def _remove_everything(sock: str) -> None:
    import json

    with contextlib.suppress(OSError, ValueError):
        for c in json.loads(api(sock, "GET", "/containers/json?all=1")[1]):
            api(sock, "DELETE", f"/containers/{c['Id']}?force=1&v=1")
        for n in json.loads(api(sock, "GET", "/networks")[1]):
            if n["Name"] not in ("bridge", "host", "none"):
                api(sock, "DELETE", f"/networks/{n['Id']}")


def busybox_tar(workdir: str) -> str:
    """One tarball both engines import, so they run the very same image."""
    root = rootfs.make_rootfs(os.path.join(workdir, "bb-rootfs"))
    tar = os.path.join(workdir, "busybox.tar")
    subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
    return tar


def import_image(sock: str, tar: str, repo: str, tag: str = "latest") -> None:
    changes = urllib.parse.quote('ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin')
    with open(tar, "rb") as f:
        status, data = api(sock, "POST", f"/images/create?fromSrc=-&repo={repo}&tag={tag}&changes={changes}", f.read(),
                           "application/x-tar")
    if status != 200 or b'"error' in data:
        raise RuntimeError(f"import into {sock} failed: {status} {data[-300:]!r}")


def _wait_socket(sock: str, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if api(sock, "GET", "/_ping")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer on {sock}")


@dataclass
class Engine:
    name: str
    sock: str
    proc: subprocess.Popen
    root: str

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DOCKER_HOST"] = env["BERTH_HOST"] = f"unix://{self.sock}"
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode cached, not recompiled
        return env

    def stop(self) -> None:
        """Its containers and user networks go first: shims outlive berthd by design, so a
        bench that stopped early would leave them (and their veths) running."""
        if self.proc.poll() is None:
            _remove_everything(self.sock)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_dockerd(workdir: str, bridge: str = "none", extra: list[str] | None = None) -> Engine:
    """`bridge`: "none" (no networking), or the name of a bridge the caller made
    (private_docker_bridge), for dockerd's default network and its userland proxy;
    `extra`: more of dockerd's flags."""
    root = os.path.join(workdir, "docker")
    os.makedirs(root)
    sock = os.path.join(root, "docker.sock")
    log = open(os.path.join(root, "dockerd.log"), "wb")
    proc = subprocess.Popen(
        ["dockerd", "--host", f"unix://{sock}", "--data-root", f"{root}/data", "--exec-root", f"{root}/exec",
         "--pidfile", f"{root}/dockerd.pid", "--bridge", bridge, "--iptables=false", "--ip6tables=false",
         "--containerd-namespace", f"bench{os.getpid()}", "--cgroup-parent", cgroup_parent("docker"),
         *(extra or [])],
        stdout=log, stderr=subprocess.STDOUT)
    _wait_socket(sock, proc, "dockerd")
    return Engine("docker", sock, proc, root)


# berthd's network names and pool, private to this benchmark process
BERTH_NET = ["--bridge", f"bb{os.getpid()}", "--veth-prefix", f"vb{os.getpid() % 100000}",
             "--nft-table", f"berth_bench{os.getpid()}", "--default-address-pool", "base=10.252.0.0/16,size=24"]


def start_berthd(workdir: str, extra: tuple[str, ...] | list[str] = ()) -> Engine:
    root = os.path.join(workdir, "berth")
    os.makedirs(root)
    sock = os.path.join(root, "berth.sock")
    log = open(os.path.join(root, "berthd.log"), "wb")
    proc = subprocess.Popen(
        [os.path.join(BIN, "berthd"), "-H", f"unix://{sock}", "--data-root", f"{root}/data",
         "--exec-root", f"{root}/exec", "--pidfile", f"{root}/berthd.pid", "--group", "root",
         "--cgroup-parent", cgroup_parent("berth"), *BERTH_NET, *extra],
        stdout=log, stderr=subprocess.STDOUT)
    _wait_socket(sock, proc, "berthd")
    return Engine("berth", sock, proc, root)


def cleanup_mounts(prefix: str) -> None:
    """Unmount whatever an engine left under prefix, deepest first."""
    with open("/proc/mounts") as f:
        points = [line.split()[1] for line in f if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], stderr=subprocess.DEVNULL)


def cleanup_cgroups(name: str) -> None:
    """Remove the cgroup parent an engine made, in every hierarchy (empty by now)."""
    base = "/sys/fs/cgroup"
    tops = [os.path.join(base, d) for d in os.listdir(base)] + [base]
    for top in tops:
        parent = os.path.join(top, name)
        if not os.path.isdir(parent):
            continue
        for dirpath, _, _ in sorted(os.walk(parent), key=lambda w: len(w[0]), reverse=True):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def cgroup_parent(engine: str) -> str:
    return f"bench-{engine}-{os.getpid()}"


def workdir() -> str:
    return tempfile.mkdtemp(prefix="berth-bench-")


def remove_workdir(path: str) -> None:
    cleanup_mounts(path)
    shutil.rmtree(path, ignore_errors=True)
    for engine in ("docker", "berth"):
        cleanup_cgroups(cgroup_parent(engine))


@contextlib.contextmanager
def fresh(kind: str) -> Iterator[Engine]:
    """One private engine ("docker" or "berth") with nothing cached, removed with all it made."""
    work = workdir()
    try:
        engine = start_dockerd(work) if kind == "docker" else start_berthd(work)
        try:
            yield engine
        finally:
            engine.stop()
    finally:
        remove_workdir(work)


def timed_request(engine: Engine, method: str, path: str,
                  headers: dict[str, str] | None = None) -> tuple[float, int, bytes]:
    """Seconds until the whole answer is read (a pull's or push's stream), its status and body."""
    conn = _UnixHTTP(engine.sock)
    start = time.perf_counter()
    conn.request(method, path, headers=headers or {})
    resp = conn.getresponse()
    body = resp.read()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, resp.status, body


def time_command(argv: list[str], env: dict[str, str]) -> float:
    """Seconds one run of argv takes (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


@contextlib.contextmanager
def sleepers(docker: Engine, berth: Engine, count: int, seconds: int = 3600) -> Iterator[None]:
    """`count` idle containers running in each engine (docker's without a network, as
    side_by_side's dockerd has none), all removed when the block ends."""
    clis = ((os.path.join(BIN, "berth"), berth, []), (shutil.which("docker") or "docker", docker,
                                                       ["--network", "none"]))
    try:
        for _ in range(count):
            for cli, engine, extra in clis:
                subprocess.run([cli, "run", "-d", *extra, "bench-busybox", "sleep", str(seconds)],
                               env=engine.env(), check=True, stdout=subprocess.DEVNULL)
        yield
    finally:
        for cli, engine, _ in clis:
            ids = subprocess.run([cli, "ps", "-aq"], env=engine.env(), capture_output=True, text=True).stdout.split()
            if ids:
                subprocess.run([cli, "rm", "-f", *ids], env=engine.env(), stdout=subprocess.DEVNULL)


DOCKER_BRIDGE = f"bd{os.getpid()}"


def private_docker_bridge(subnet_gateway: str = "10.251.0.1/24") -> str:
    """A bridge for dockerd's default network (dockerd's -b wants it made, with its address)."""
    subprocess.run(["ip", "link", "add", DOCKER_BRIDGE, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", subnet_gateway, "dev", DOCKER_BRIDGE], check=True)
    subprocess.run(["ip", "link", "set", DOCKER_BRIDGE, "up"], check=True)
    return DOCKER_BRIDGE


def remove_network() -> None:
    """The docker bridge, and whatever berthd left of its own (it removes them itself on a clean stop)."""
    for link in (DOCKER_BRIDGE, BERTH_NET[1]):
        subprocess.run(["ip", "link", "del", link], stderr=subprocess.DEVNULL)
    subprocess.run(["nft", "delete", "table", "ip", BERTH_NET[5]], stderr=subprocess.DEVNULL)


@contextlib.contextmanager
def side_by_side(image: str = "bench-busybox", network: bool = False) -> Iterator[tuple[Engine, Engine]]:
    """(dockerd, berthd), private, with the same busybox tarball imported as `image`.

    Everything they made is stopped and removed afterwards.
    """
    work = workdir()
    running: list[Engine] = []
    try:
        tar = busybox_tar(work)
        running.append(start_dockerd(work, private_docker_bridge() if network else "none"))
        running.append(start_berthd(work))
        for engine in running:
            import_image(engine.sock, tar, image)
        yield running[0], running[1]
    finally:
        for engine in reversed(running):
            engine.stop()
        remove_workdir(work)
        remove_network()


def processes() -> dict[int, tuple[int, str]]:
    """Every process now, by pid: its parent's pid and its comm (15 characters at most),
    from one scan of /proc."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                text = f.read()
        except OSError:
            continue  # gone in the meantime
        comm, rest = text.split("(", 1)[1].rsplit(")", 1)
        out[int(entry)] = (int(rest.split()[1]), comm)
    return out


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid` now, by pid: their comm."""
    return {p: comm for p, (ppid, comm) in processes().items() if ppid == pid}


def cpu_seconds(pids: Iterable[int], reaped: bool = False) -> float:
    """utime + stime of these processes so far (gone ones count 0); `reaped`: with those
    of the children each has waited for (cutime + cstime: a daemon's short-lived helpers)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15 if reaped else 13])
        except (OSError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")
