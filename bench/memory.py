"""Memory of the engine and of each container's shim: berth against Docker.

    .venv/bin/python bench/memory.py [--containers 5]

Starts a private berthd and dockerd (bench/engines.py), runs the same number of
`sleep` containers in each, and prints the proportional set size (PSS, from
/proc/PID/smaps_rollup: shared pages split among their users, so forked shims are
not counted whole) of the daemons and of the per-container shims, and the ratios.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import sys

import engines

BERTH = os.path.join(engines.BIN, "berth")
DOCKER = shutil.which("docker") or "docker"


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return 0


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for p, (ppid, _) in engines.processes().items():
        children.setdefault(ppid, []).append(p)
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _berth_shims(engine: engines.Engine) -> list[int]:
    pids = []
    for path in glob.glob(os.path.join(engine.root, "exec", "containerd", "tasks", "*", "shim.pid")):
        with open(path) as f:
            pids.append(int(f.read()))
    return pids


def _docker_shims(namespace: str) -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()
            and "containerd-shim" in _cmdline(int(p)) and f"-namespace {namespace} " in _cmdline(int(p))]


def engine_pss(engine: engines.Engine, shims: list[int]) -> tuple[float, float, int]:
    """MiB of PSS: the engine's daemons (every descendant that is not a shim), its shims; and the shim count."""
    daemons = [p for p in _descendants(engine.proc.pid) if p not in shims]
    return (sum(_pss_kb(p) for p in daemons) / 1024, sum(_pss_kb(p) for p in shims) / 1024, len(shims))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--containers", type=int, default=5)
    args = parser.parse_args()
    with engines.side_by_side() as (docker, berth), engines.sleepers(docker, berth, args.containers, 600):
        # the daemons: berthd + berth-containerd + its fork server; dockerd + its containerd
        totals = {"berth": engine_pss(berth, _berth_shims(berth)),
                  "docker": engine_pss(docker, _docker_shims(f"bench{os.getpid()}"))}
    print(f"PSS with {args.containers} running containers each (MiB)")
    for name, (daemon, shims, n_shims) in totals.items():
        print(f"  {name:>6}: daemons {daemon:6.1f}, per container shim {shims / max(n_shims, 1):5.2f} ({n_shims} shims)")
    (bd, bs, bn), (dd, ds, dn) = totals["berth"], totals["docker"]
    print(f"  ratio berth/docker: daemons {bd / dd:.2f}, per shim {(bs / max(bn, 1)) / (ds / max(dn, 1)):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
