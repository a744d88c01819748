"""`run --rm busybox true`: berth through its own CLI against Docker through the
docker CLI, each on a private engine, same image tarball, same machine, one run.

    .venv/bin/python bench/chain.py [--runs 20]

Prints the median wall time of each and the ratio berth/docker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys

import engines

BERTH = os.path.join(engines.BIN, "berth")
DOCKER = shutil.which("docker") or "docker"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with engines.side_by_side() as (docker, berth):
        cases = {
            "berth": ([BERTH, "run", "--rm", "--network", "none", "bench-busybox", "true"], berth.env()),
            "docker": ([DOCKER, "run", "--rm", "--network", "none", "bench-busybox", "true"], docker.env()),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for cmd, env in cases.values():
            engines.time_command(cmd, env)  # warm-up, not counted
        for _ in range(args.runs):  # interleaved so machine noise hits both alike
            for name, (cmd, env) in cases.items():
                times[name].append(engines.time_command(cmd, env))
    med = {name: statistics.median(t) for name, t in times.items()}
    for name, m in med.items():
        print(f"{name:>8}: median {m * 1000:7.1f} ms over {args.runs} runs (min {min(times[name]) * 1000:.1f})")
    print(f"   ratio: berth/docker = {med['berth'] / med['docker']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
