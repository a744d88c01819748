"""`run --rm busybox true`: berth through its own CLI against Docker through the
docker CLI, each on a private engine, same image tarball, same machine, one run.

    .venv/bin/python bench/chain.py [--runs 20] [--network none|bridge]

`--network none` (the default) leaves networking out; `--network bridge` runs both on
their default bridge: dockerd with Debian's defaults (iptables, docker0) in a network
namespace of its own (bench/dockerns.py), berthd on its private bridge.
Prints the median wall time of each and the ratio berth/docker.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
from collections.abc import Iterator

import dockerns
import engines

BERTH = os.path.join(engines.BIN, "berth")
DOCKER = shutil.which("docker") or "docker"


@contextlib.contextmanager
def _bridged(image: str = "bench-busybox") -> Iterator[tuple[engines.Engine, engines.Engine]]:
    """(dockerd on its own docker0 in its own namespace, berthd on its private bridge)."""
    work = engines.workdir()
    running: list[engines.Engine] = []
    try:
        tar = engines.busybox_tar(work)
        running.append(dockerns.start(work, "docker", userland_proxy=True))
        running.append(engines.start_berthd(work))
        for engine in running:
            engines.import_image(engine.sock, tar, image)
        yield running[0], running[1]
    finally:
        for engine in reversed(running):
            engine.stop()
        engines.remove_workdir(work)
        engines.remove_network()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--network", choices=("none", "bridge"), default="none")
    args = parser.parse_args()
    pair = _bridged() if args.network == "bridge" else engines.side_by_side()
    with pair as (docker, berth):
        cases = {
            "berth": ([BERTH, "run", "--rm", "--network", args.network, "bench-busybox", "true"], berth.env()),
            "docker": ([DOCKER, "run", "--rm", "--network", args.network, "bench-busybox", "true"], docker.env()),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for cmd, env in cases.values():
            engines.time_command(cmd, env)  # warm-up, not counted
        for _ in range(args.runs):  # interleaved so machine noise hits both alike
            for name, (cmd, env) in cases.items():
                times[name].append(engines.time_command(cmd, env))
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"network {args.network}")
    for name, m in med.items():
        print(f"{name:>8}: median {m * 1000:7.1f} ms over {args.runs} runs (min {min(times[name]) * 1000:.1f})")
    print(f"   ratio: berth/docker = {med['berth'] / med['docker']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
