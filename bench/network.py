"""Networking, berth against Docker on the same machine in one run, each a private
engine on its own bridge (Docker's made by engines.py, with its userland proxy as the
published port's path, as Debian's dockerd runs without iptables here; berth's DNAT in
the kernel), the same busybox image:

- throughput: a 200 MB download through a published port on 127.0.0.1 (curl);
- request rate: many short HTTP requests through it (wrk, 2 threads, 20 connections);
- time-to-network: from `run -d -p` to the first answer through the published port;
- `run --rm busybox true` on each engine's default bridge.

    .venv/bin/python bench/network.py [--runs 10] [--size-mb 200] [--seconds 5]

Prints each figure side by side and the ratios berth/docker.
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

import engines

BERTH = os.path.join(engines.BIN, "berth")
DOCKER = shutil.which("docker") or "docker"
IMAGE = "bench-busybox"


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


def throughput(engine: engines.Engine, port: int, size_mb: int) -> float:
    name = f"big-{engine.name}"
    _run(engine, "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:80", IMAGE, "sh", "-c",
         f"dd if=/dev/zero of=/big bs=1M count={size_mb} 2>/dev/null; exec httpd -f -p 80 -h /")
    try:
        _wait(port)
        best = 0.0
        for _ in range(3):
            out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{speed_download} %{size_download}",
                                  f"http://127.0.0.1:{port}/big"], capture_output=True, text=True, check=True).stdout
            speed, size = out.split()
            assert int(float(size)) == size_mb << 20, out
            best = max(best, float(speed))
        return best / 1e9  # GB/s
    finally:
        _run(engine, "rm", "-f", name)


def request_rate(engine: engines.Engine, port: int, seconds: int) -> float:
    name = f"small-{engine.name}"
    _run(engine, "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:80", IMAGE, "httpd", "-f", "-p", "80",
         "-h", "/etc")
    try:
        _wait(port)
        out = subprocess.run(["wrk", "-t2", "-c20", f"-d{seconds}s", f"http://127.0.0.1:{port}/hostname"],
                             capture_output=True, text=True, check=True).stdout
        return float(next(line for line in out.splitlines() if line.startswith("Requests/sec")).split()[1])
    finally:
        _run(engine, "rm", "-f", name)


def time_to_network(engine: engines.Engine, port: int, runs: int) -> float:
    times = []
    for i in range(runs):
        name = f"ttn-{engine.name}-{i}"
        start = time.perf_counter()
        _run(engine, "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:80", IMAGE, "httpd", "-f", "-p", "80")
        _wait(port)
        times.append(time.perf_counter() - start)
        _run(engine, "rm", "-f", name)
    return statistics.median(times)


def run_rm_true(engine: engines.Engine, runs: int) -> float:
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        _run(engine, "run", "--rm", IMAGE, "true")
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])  # the first warms up


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    ports = {"docker": 18601, "berth": 18602}
    rows: list[tuple[str, float, float, str, bool]] = []  # (what, docker, berth, unit, higher is better)
    with engines.side_by_side(IMAGE, network=True) as (docker, berth):
        pair = (docker, berth)
        got = [throughput(e, ports[e.name], args.size_mb) for e in pair]
        rows.append((f"download {args.size_mb} MB via 127.0.0.1", *got, "GB/s", True))
        got = [request_rate(e, ports[e.name], args.seconds) for e in pair]
        rows.append(("small requests (wrk -t2 -c20)", *got, "req/s", True))
        got = [time_to_network(e, ports[e.name], args.runs) * 1000 for e in pair]
        rows.append(("run -d -p to first answer", *got, "ms", False))
        got = [run_rm_true(e, args.runs) * 1000 for e in pair]
        rows.append(("run --rm busybox true (bridge)", *got, "ms", False))
    print(f"{'':34}{'docker':>12}{'berth':>12}   berth/docker")
    for what, d, b, unit, _ in rows:
        print(f"{what:34}{d:>10.2f} {unit:<5}{b:>8.2f} {unit:<5} {b / d:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
