"""Networking, berth against Docker as Debian ships it, in one run, the same busybox image:

- `docker`: Debian's dockerd defaults (iptables on, userland proxy on): a connection to a
  published port through 127.0.0.1 goes through docker-proxy, a userland copy;
- `docker -up`: the same with `--userland-proxy=false`: DNAT in the kernel, as berth's;
- `berth`: a private berthd, defaults but for its private names and pool (no userland
  proxy to turn on: DNAT in the kernel, as `docker -up`).

Each dockerd runs in a network namespace of its own (bench/dockerns.py), so that its
iptables rules and docker0 never touch the host's network; what measures it runs there
too. Every container publishes as users do, `-p PORT:80`, and is reached at 127.0.0.1:

- throughput: a 1000 MB download (curl, the median of 5, the engines taking turns), with the engine's
  CPU time meanwhile (dockerd + docker-proxy; berthd + berth-containerd): what of the bytes the engine
  carries. 1000 MB: a short download is over in a few tens of ms at these rates, mostly noise;
- request rate: many short HTTP requests (wrk, 2 threads, 20 connections), the median of 3 rounds
  of 5 s, back to back as a load test's would be: a path that runs out of ports (wrk closes
  first, its TIME_WAIT must be reusable) shows here, where the best round would hide it;
- time-to-network: from `run -d -p` to the first answer through the published port;
- `run --rm busybox true` on each engine's default bridge;
- the ceiling: the same downloads straight to berth's container at its own address (no
  NAT, no proxy, nothing of an engine in the path), which no way of forwarding a published
  port can beat: the server, curl and the copy into curl share the two cores; beside
  berth's row it shows what the DNAT costs. (No such row for requests: connections to the
  container's address leave wrk's TIME_WAIT off loopback, where the kernel does not reuse
  it, and the rounds after the first wait for ports.)

    .venv/bin/python bench/network.py [--runs 10] [--size-mb 1000] [--seconds 5]

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


def _answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/1")
    except OSError:
        return False


def _wait(port: int, timeout: float = 30, host: str = "127.0.0.1") -> float:
    start = time.perf_counter()
    while not _answers(port, host):
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"port {port} never answered")
        time.sleep(0.002)
    return time.perf_counter() - start


def _engine_pids(engine: engines.Engine) -> list[int]:
    if engine.name == "berth":
        with open(os.path.join(engine.root, "exec", "berth-containerd.pid")) as f:
            return [engine.proc.pid, int(f.read())]
    return [engine.proc.pid, *dockerns.proxies(engine)]


def _address(engine: engines.Engine, name: str) -> str:
    return _run(engine, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", name)


def _curl(port: int, host: str = "127.0.0.1") -> tuple[float, int]:
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{speed_download} %{size_download}",
                          f"http://{host}:{port}/big"], capture_output=True, text=True, check=True).stdout
    speed, size = out.split()
    return float(speed), int(float(size))


def _serve(pairs: list[tuple[engines.Engine, Callable]], names: list[str], what: str, *cmd: str) -> None:
    """A server container on each engine, published as users do; each name is in
    `names` before its container is asked for, so that a failure leaves none behind."""
    for engine, inside in pairs:
        names.append(f"{what}-{engine.name}")
        _run(engine, "run", "-d", "--name", names[-1], "-p", f"{PORTS[engine.name]}:80", IMAGE, *cmd)
        inside(_wait, PORTS[engine.name])


def _remove(pairs: list[tuple[engines.Engine, Callable]], names: list[str]) -> None:
    for (engine, _), name in zip(pairs, names, strict=False):
        subprocess.run([_cli(engine), "rm", "-f", name], env=engine.env(), capture_output=True)


def throughput(pairs: list[tuple[engines.Engine, Callable]], size_mb: int,
               rounds: int = 5) -> tuple[list[float], list[float], float]:
    """Per engine, the median GB/s of the rounds and the engine's median CPU seconds per
    download; and berth's container reached at its own address. The engines take turns
    in each round, so that a load that comes and goes weighs on all of them alike."""
    names: list[str] = []
    try:
        _serve(pairs, names, "big", "sh", "-c",
               f"dd if=/dev/zero of=/big bs=1M count={size_mb} 2>/dev/null; exec httpd -f -p 80 -h /")
        berth = pairs[-1][0]
        direct_host = _address(berth, names[-1])
        speeds: list[list[float]] = [[] for _ in pairs]
        cpu: list[list[float]] = [[] for _ in pairs]
        direct: list[float] = []
        for _ in range(rounds):
            for n, (engine, inside) in enumerate(pairs):
                pids = _engine_pids(engine)
                before = engines.cpu_seconds(pids)
                speed, size = inside(_curl, PORTS[engine.name])
                cpu[n].append(engines.cpu_seconds(pids) - before)
                assert size == size_mb << 20, size
                speeds[n].append(speed / 1e9)
            direct.append(_curl(80, direct_host)[0] / 1e9)
        return ([statistics.median(s) for s in speeds], [statistics.median(c) for c in cpu],
                statistics.median(direct))
    finally:
        _remove(pairs, names)


def _wrk(port: int, seconds: int, host: str = "127.0.0.1") -> float:
    out = subprocess.run(["wrk", "-t2", "-c20", f"-d{seconds}s", f"http://{host}:{port}/hostname"],
                         capture_output=True, text=True, check=True).stdout
    return float(next(line for line in out.splitlines() if line.startswith("Requests/sec")).split()[1])


def request_rate(pairs: list[tuple[engines.Engine, Callable]], seconds: int,
                 rounds: int = 3) -> list[float]:
    """Per engine, the median requests/s of the rounds through the published port,
    taking turns as throughput() does."""
    names: list[str] = []
    try:
        _serve(pairs, names, "small", "httpd", "-f", "-p", "80", "-h", "/etc")
        rates: list[list[float]] = [[] for _ in pairs]
        for _ in range(rounds):
            for n, (engine, inside) in enumerate(pairs):
                rates[n].append(inside(_wrk, PORTS[engine.name], seconds))
        return [statistics.median(r) for r in rates]
    finally:
        _remove(pairs, names)


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
    print("ceiling: straight to berth's container address (no engine in the path), over docker's figure")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--size-mb", type=int, default=1000)
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
        speeds, cpu, direct = throughput(pairs, args.size_mb)
        rows.append((f"download {args.size_mb} MB via 127.0.0.1", speeds, "GB/s"))
        rows.append(("  engine CPU per download", cpu, "s"))
        rows.append(("  ceiling: to the container itself", [*speeds[:2], direct], "GB/s"))
        rows.append(("small requests (wrk -t2 -c20)", request_rate(pairs, args.seconds), "r/s"))
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
