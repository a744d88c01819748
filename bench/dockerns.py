"""Debian's dockerd as Debian ships it (iptables on, its own docker0, userland proxy on
unless asked otherwise) for the network benchmark, without touching the host's network:
each one runs in a network namespace of its own, where its iptables rules, docker0,
ip_forward and route_localnet live and die with it. What measures it (curl, wrk, the
bench's own sockets) runs in that namespace too, from a thread that joined it (setns is
per thread, and the programs that thread starts inherit its namespace)."""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import engines

T = TypeVar("T")
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _join(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


class Inside:
    """Calls run in the engine's network namespace (or in the host's, for berth: `pid` None)."""

    def __init__(self, pid: int | None) -> None:
        self._pool = ThreadPoolExecutor(1, initializer=_join if pid else None,
                                        initargs=(f"/proc/{pid}/ns/net",) if pid else ())

    def __call__(self, fn: Callable[..., T], *args: object) -> T:
        return self._pool.submit(fn, *args).result()

    def close(self) -> None:
        self._pool.shutdown()


def start(workdir: str, name: str, userland_proxy: bool) -> engines.Engine:
    """dockerd with Debian's defaults but for its roots, socket, containerd namespace and
    cgroup parent, in a new network namespace (loopback up, nothing else)."""
    root = os.path.join(workdir, name)
    os.makedirs(root)
    sock = os.path.join(root, "docker.sock")
    log = open(os.path.join(root, "dockerd.log"), "wb")
    argv = ["dockerd", "--host", f"unix://{sock}", "--data-root", f"{root}/data", "--exec-root", f"{root}/exec",
            "--pidfile", f"{root}/dockerd.pid", "--containerd-namespace", f"bench{os.getpid()}{name}",
            "--cgroup-parent", engines.cgroup_parent(name)]
    if not userland_proxy:
        argv.append("--userland-proxy=false")
    # unshare execs: the Popen's pid is dockerd's
    proc = subprocess.Popen(["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv],
                            stdout=log, stderr=subprocess.STDOUT)
    engines._wait_socket(sock, proc, name)
    return engines.Engine(name, sock, proc, root)


def proxies(engine: engines.Engine) -> list[int]:
    """The docker-proxy processes dockerd started (one per published address family)."""
    return [pid for pid, comm in engines.children(engine.proc.pid).items() if comm == "docker-proxy"]
