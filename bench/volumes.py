"""1 GB written and read through a named volume and through a bind, inside a container:
berth against Docker against the host, in one run.

    sudo .venv/bin/python bench/volumes.py [--mb 1024] [--rounds 3]

Starts a private berthd and dockerd (bench/engines.py) with their data roots on the same
filesystem, runs one idle container in each with a named volume at /vol and a bind of
a host directory at /bind, and times `dd` of --mb MiB: a write (conv=fsync, so the
data is on disk when it ends) and a read with O_DIRECT (iflag=direct: from the disk,
not the page cache, without dropping the machine's caches). The same dd runs on the
host in a directory of that filesystem. The time is busybox `time`'s around the dd, where
it runs (the I/O alone, not the exec around it), median of --rounds, the cases taking turns in each round. A volume
and a bind are the host's own filesystem: the target is the host's speed (ratio 1.0);
anything slower is a bug.
"""

from __future__ import annotations

import argparse
import os
import statistics
import re
import subprocess

import engines


def _dd(target: str, mb: int) -> tuple[list[str], list[str]]:
    f = os.path.join(target, "bench.dat")
    return (["dd", "if=/dev/zero", f"of={f}", "bs=1M", f"count={mb}", "conv=fsync"],
            ["dd", f"if={f}", "of=/dev/null", "bs=1M", "iflag=direct"])


def _timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    """busybox `time`'s real seconds around the dd, where it runs: the I/O alone, without
    the exec's own cost (this busybox's dd does not print its time)."""
    done = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
    found = re.search(r"real\s+(\d+)m ([0-9.]+)s", done.stderr)
    assert found, done.stderr
    return int(found.group(1)) * 60 + float(found.group(2))


def _start(cli: str, env: dict[str, str], name: str, bind: str) -> None:
    os.makedirs(bind)
    subprocess.run([cli, "run", "-d", "--name", name, "--network", "none", "-v", f"{name}:/vol",
                    "-v", f"{bind}:/bind", "bench-busybox", "sleep", "3600"], env=env, check=True, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times: dict[tuple[str, str], list[float]] = {}
    name = f"bench-vol-{os.getpid()}"
    with engines.side_by_side() as (docker, berth):
        host_dir = os.path.join(os.path.dirname(berth.root), "host")
        clis = [(docker, "docker"), (berth, os.path.join(engines.BIN, "berth"))]
        try:
            for engine, cli in clis:
                _start(cli, engine.env(), name, os.path.join(host_dir, engine.name))
            # every case once per round, in turn: the disk's drift is shared out evenly
            # the same busybox dd and time on the host and in the containers
            cases: list[tuple[str, list[str], dict[str, str] | None]] = [("host", ["busybox", "time", "busybox"],
                                                                          None)]
            for engine, cli in clis:
                cases += [(f"{engine.name} {w}", [cli, "exec", name, "time"], engine.env()) for w in ("vol", "bind")]
            for _ in range(args.rounds):
                for key, prefix, env in cases:
                    where = host_dir if key == "host" else "/" + key.split()[1]
                    write, read = _dd(where, args.mb)
                    for op, argv in (("write", write), ("read", read)):
                        times.setdefault((key, op), []).append(_timed([*prefix, *argv], env))
                    subprocess.run([*prefix[:-1], "rm", os.path.join(where, "bench.dat")], env=env, check=True)
        finally:
            for engine, cli in clis:
                subprocess.run([cli, "rm", "-f", "-v", name], env=engine.env(), capture_output=True)
                subprocess.run([cli, "volume", "rm", name], env=engine.env(), capture_output=True)
    results = {k: statistics.median(v) for k, v in times.items()}
    mib = args.mb
    print(f"{args.mb} MiB, median of {args.rounds}; MiB/s and ratios (1.00 = as fast)")
    print(f"{'case':<14}{'op':<7}{'host':>9}{'berth':>9}{'docker':>9}{'berth/host':>12}{'berth/docker':>14}")
    for where in ("vol", "bind"):
        for op in ("write", "read"):
            h, b, d = (mib / results[(k, op)] for k in ("host", f"berth {where}", f"docker {where}"))
            print(f"{where:<14}{op:<7}{h:>9.0f}{b:>9.0f}{d:>9.0f}{b / h:>12.2f}{b / d:>14.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
