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
import statistics
import subprocess
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
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--containers", type=int, default=5)
    args = parser.parse_args()
    with engines.side_by_side() as (docker, berth):
        try:
            for _ in range(args.containers):
                subprocess.run([BERTH, "run", "-d", "bench-busybox", "sleep", "600"], env=berth.env(),
                               check=True, stdout=subprocess.DEVNULL)
                subprocess.run([DOCKER, "run", "-d", "--network", "none", "bench-busybox", "sleep", "600"],
                               env=docker.env(), check=True, stdout=subprocess.DEVNULL)
            shims = {"berth": _berth_shims(berth), "docker": _docker_shims(f"bench{os.getpid()}")}
            # the daemons: berthd + berth-containerd + its fork server; dockerd + its containerd
            daemons = {name: [p for p in _descendants(e.proc.pid) if p not in shims[name]]
                       for name, e in (("berth", berth), ("docker", docker))}
            totals = {}
            for name in ("berth", "docker"):
                daemon = sum(_pss_kb(p) for p in daemons[name]) / 1024
                per_shim = statistics.mean(_pss_kb(p) for p in shims[name]) / 1024 if shims[name] else 0.0
                totals[name] = (daemon, per_shim, len(daemons[name]), len(shims[name]))
        finally:
            for cli, engine in ((BERTH, berth), (DOCKER, docker)):
                ids = subprocess.run([cli, "ps", "-aq"], env=engine.env(), capture_output=True,
                                     text=True).stdout.split()
                if ids:
                    subprocess.run([cli, "rm", "-f", *ids], env=engine.env(), stdout=subprocess.DEVNULL)
    print(f"PSS with {args.containers} running containers each (MiB)")
    for name, (daemon, per_shim, n_daemons, n_shims) in totals.items():
        print(f"  {name:>6}: daemons {daemon:6.1f} ({n_daemons} processes), "
              f"per container shim {per_shim:5.2f} ({n_shims} shims)")
    (bd, bs, _, _), (dd, ds, _, _) = totals["berth"], totals["docker"]
    print(f"  ratio berth/docker: daemons {bd / dd:.2f}, per shim {bs / ds:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
