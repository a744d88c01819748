"""`stats --no-stream` with many running containers, and the engine's memory beside
them: berth against Docker, in one run.

    .venv/bin/python bench/stats.py [--containers 50] [--rounds 3]

Starts a private berthd and dockerd (bench/engines.py), runs the same number of idle
`sleep` containers in each, times `stats --no-stream` (berth's CLI on berthd, the
docker CLI on dockerd, and the docker CLI on berthd), then prints the proportional
set size of each engine (daemons + every shim, as bench/memory.py counts it) and the
ratios. The first round of each is a warm-up and is not counted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import engines
from memory import BERTH, DOCKER, _berth_shims, _docker_shims, engine_pss


def _time(argv: list[str], env: dict[str, str], rounds: int) -> float:
    """Median seconds of `rounds` runs after one warm-up; each must list every container."""
    times = []
    for i in range(rounds + 1):
        t0 = time.perf_counter()
        out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
        if i:
            times.append(time.perf_counter() - t0)
        assert len(out.splitlines()) > 1, out
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with engines.side_by_side() as (docker, berth), engines.sleepers(docker, berth, args.containers):
        timing = {
            "berth CLI on berthd": _time([BERTH, "stats", "--no-stream"], berth.env(), args.rounds),
            "docker CLI on berthd": _time([DOCKER, "stats", "--no-stream"], berth.env(), args.rounds),
            "docker CLI on dockerd": _time([DOCKER, "stats", "--no-stream"], docker.env(), args.rounds),
        }
        mem = {"berth": engine_pss(berth, _berth_shims(berth)),
               "docker": engine_pss(docker, _docker_shims(f"bench{os.getpid()}"))}
    n = args.containers
    print(f"stats --no-stream with {n} running containers (median of {args.rounds}, seconds)")
    for what, secs in timing.items():
        print(f"  {what:>22}: {secs:6.2f}")
    base = timing["docker CLI on dockerd"]
    print(f"  ratio to docker on dockerd: berth CLI {timing['berth CLI on berthd'] / base:.2f}, "
          f"docker CLI on berthd {timing['docker CLI on berthd'] / base:.2f}")
    print(f"PSS of the engine with {n} idle containers (MiB)")
    for name, (daemons, shims, count) in mem.items():
        print(f"  {name:>6}: daemons {daemons:6.1f}, shims {shims:6.1f} ({count}, {shims / max(count, 1):.2f} each), "
              f"total {daemons + shims:6.1f} = {(daemons + shims) / n:.2f} per container")
    (bd, bs, bn), (dd, ds, dn) = mem["berth"], mem["docker"]
    print(f"  ratio berth/docker: total {(bd + bs) / (dd + ds):.2f}, "
          f"per shim {(bs / max(bn, 1)) / (ds / max(dn, 1)):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
