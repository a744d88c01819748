"""Networking, berth against Docker as Debian ships it, in one run, the same busybox image:

- `docker`: Debian's dockerd defaults (iptables on, userland proxy on): a connection to a
  published port through 127.0.0.1 goes through docker-proxy, a userland copy;
- `docker -up`: the same with `--userland-proxy=false`: DNAT in the kernel, as berth's;
- `berth`: a private berthd, defaults but for its private names and pool (its DNAT in the
  kernel; it has no userland proxy to turn on).

Each dockerd runs in a network namespace of its own (bench/dockerns.py), so that its
iptables rules and docker0 never touch the host's network; what measures it runs there
too. Every container publishes as users do, `-p PORT:80`, and is reached at 127.0.0.1:

- throughput: a 200 MB download (curl, best of 3), with the engine's CPU time meanwhile
  (dockerd + docker-proxy; berthd + berth-containerd): what of the bytes the engine carries;
- request rate: many short HTTP requests (wrk, 2 threads, 20 connections);
- time-to-network: from `run -d -p` to the first answer through the published port;
- `run --rm busybox true` on each engine's default bridge.

    .venv/bin/python bench/network.py [--runs 10] [--size-mb 200] [--seconds 5]

Prints each figure side by side and the ratios berth/docker for both dockerds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import dockerns
import engines

BERTH = os.path.join(engines.BIN, "berth")
DOCKER = shutil.which("docker") or "docker"
IMAGE = "bench-busybox"
NAMES = ("docker", "docker-up", "berth")  # docker-up: --userland-proxy=false
PORTS = {"docker": 18601, "docker-up": 18602, "berth": 18603}


def _cli(engine: engines.Engine) -> str:
    return BERTH if engine.name == "berth" else DOCKER


def _run(engine: engines.Engine, *args: str) -> str:
    return subprocess.run([_cli(engine), *args], env=engine.env(), check=True, capture_output=True,
                          text=True).stdout.strip()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/1")
    except OSError:
        return False


def _wait(port: int, timeout: float = 30) -> float:
    start = time.perf_counter()
    while not _answers(port):
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"port {port} never answered")
        time.sleep(0.002)
    return time.perf_counter() - start


def _engine_pids(engine: engines.Engine) -> list[int]:
    if engine.name == "berth":
        with open(os.path.join(engine.root, "exec", "berth-containerd.pid")) as f:
            return [engine.proc.pid, int(f.read())]
    return [engine.proc.pid, *dockerns.proxies(engine)]


def _curl(port: int) -> tuple[float, int]:
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{speed_download} %{size_download}",
                          f"http://127.0.0.1:{port}/big"], capture_output=True, text=True, check=True).stdout
    speed, size = out.split()
    return float(speed), int(float(size))


def throughput(engine: engines.Engine, inside: Callable, port: int, size_mb: int) -> tuple[float, float]:
    """(best GB/s of 3, the engine's CPU seconds per download)."""
    name = f"big-{engine.name}"
    _run(engine, "run", "-d", "--name", name, "-p", f"{port}:80", IMAGE, "sh", "-c",
         f"dd if=/dev/zero of=/big bs=1M count={size_mb} 2>/dev/null; exec httpd -f -p 80 -h /")
    try:
        inside(_wait, port)
        best, cpu = 0.0, []
        pids = _engine_pids(engine)
        for _ in range(3):
            before = dockerns.cpu_seconds(pids)
            speed, size = inside(_curl, port)
            cpu.append(dockerns.cpu_seconds(pids) - before)
            assert size == size_mb << 20, size
            best = max(best, speed)
        return best / 1e9, statistics.median(cpu)
    finally:
        _run(engine, "rm", "-f", name)


def _wrk(port: int, seconds: int) -> float:
    out = subprocess.run(["wrk", "-t2", "-c20", f"-d{seconds}s", f"http://127.0.0.1:{port}/hostname"],
                         capture_output=True, text=True, check=True).stdout
    return float(next(line for line in out.splitlines() if line.startswith("Requests/sec")).split()[1])


def request_rate(engine: engines.Engine, inside: Callable, port: int, seconds: int) -> float:
    name = f"small-{engine.name}"
    _run(engine, "run", "-d", "--name", name, "-p", f"{port}:80", IMAGE, "httpd", "-f", "-p", "80", "-h", "/etc")
    try:
        inside(_wait, port)
        return inside(_wrk, port, seconds)
    finally:
        _run(engine, "rm", "-f", name)


def _time_to_network(engine: engines.Engine, port: int, name: str) -> float:
    start = time.perf_counter()
    _run(engine, "run", "-d", "--name", name, "-p", f"{port}:80", IMAGE, "httpd", "-f", "-p", "80")
    _wait(port)
    return time.perf_counter() - start


def time_to_network(engine: engines.Engine, inside: Callable, port: int, runs: int) -> float:
    times = []
    for i in range(runs):
        name = f"ttn-{engine.name}-{i}"
        times.append(inside(_time_to_network, engine, port, name))
        _run(engine, "rm", "-f", name)
    return statistics.median(times)


def run_rm_true(engine: engines.Engine, runs: int) -> float:
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        _run(engine, "run", "--rm", IMAGE, "true")
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])  # the first warms up


def _print(rows: list[tuple[str, list[float], str]]) -> None:
    print(f"{'':34}{'docker':>14}{'docker -up':>14}{'berth':>14}   berth/docker  berth/docker -up")
    for what, (d, dn, b), unit in rows:
        ratios = "".join(f"{b / x:>{w}.2f}" if x else f"{'-':>{w}}" for x, w in ((d, 10), (dn, 14)))
        print(f"{what:34}{d:>9.2f} {unit:<4}{dn:>9.2f} {unit:<4}{b:>9.2f} {unit:<4}{ratios}")
    print("docker: Debian's dockerd defaults (userland proxy); docker -up: --userland-proxy=false")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    work = engines.workdir()
    running: list[engines.Engine] = []
    insides: list[dockerns.Inside] = []
    try:
        tar = engines.busybox_tar(work)
        running.append(dockerns.start(work, "docker", userland_proxy=True))
        running.append(dockerns.start(work, "docker-up", userland_proxy=False))
        running.append(engines.start_berthd(work))
        for engine in running:
            engines.import_image(engine.sock, tar, IMAGE)
        insides = [dockerns.Inside(e.proc.pid if e.name != "berth" else None) for e in running]
        pairs = list(zip(running, insides, strict=True))
        rows: list[tuple[str, list[float], str]] = []
        got = [throughput(e, i, PORTS[e.name], args.size_mb) for e, i in pairs]
        rows.append((f"download {args.size_mb} MB via 127.0.0.1", [g[0] for g in got], "GB/s"))
        rows.append(("  engine CPU per download", [g[1] for g in got], "s"))
        rows.append(("small requests (wrk -t2 -c20)", [request_rate(e, i, PORTS[e.name], args.seconds)
                                                       for e, i in pairs], "r/s"))
        rows.append(("run -d -p to first answer", [time_to_network(e, i, PORTS[e.name], args.runs) * 1000
                                                   for e, i in pairs], "ms"))
        rows.append(("run --rm busybox true (bridge)", [run_rm_true(e, args.runs) * 1000 for e in running], "ms"))
        _print(rows)
    finally:
        for inside in insides:
            inside.close()
        for engine in reversed(running):
            engine.stop()
        engines.remove_workdir(work)
        for name in NAMES:
            engines.cleanup_cgroups(engines.cgroup_parent(name))
        engines.remove_network()
    return 0


if __name__ == "__main__":
    sys.exit(main())
