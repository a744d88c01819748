"""What Docker's default seccomp profile costs `run --rm busybox true`: berth with the
default profile against berth with `--security-opt seccomp=unconfined` (no filter, as every
container ran before the profile), on one private berthd, interleaved in one run. berth-runc
compiles a profile once and keeps its BPF (runc/seccomp_cache.py); `--cold` empties that
cache before every default run, to show what compiling per container would cost.

    .venv/bin/python bench/seccomp.py [--runs 20] [--cold]
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import sys

import engines

BERTH = os.path.join(engines.BIN, "berth")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cold", action="store_true", help="drop the compiled-profile cache before each run")
    args = parser.parse_args()
    with engines.fresh("berth") as berth:
        engines.import_image(berth.sock, engines.busybox_tar(berth.root), "bench-busybox")
        env = berth.env()
        cases = {
            "default profile": [BERTH, "run", "--rm", "bench-busybox", "true"],
            "unconfined": [BERTH, "run", "--rm", "--security-opt", "seccomp=unconfined", "bench-busybox", "true"],
        }
        caches = os.path.join(berth.root, "exec", "containerd", "*", "@seccomp")
        times: dict[str, list[float]] = {name: [] for name in cases}
        for cmd in cases.values():
            engines.time_command(cmd, env)  # warm-up (and the one compile), not counted
        for _ in range(args.runs):  # interleaved so machine noise hits both alike
            for name, cmd in cases.items():
                if args.cold and name == "default profile":
                    for d in glob.glob(caches) + glob.glob(os.path.join(berth.root, "**", "@seccomp"),
                                                           recursive=True):
                        shutil.rmtree(d, ignore_errors=True)
                times[name].append(engines.time_command(cmd, env))
    med = {name: statistics.median(t) for name, t in times.items()}
    for name, m in med.items():
        print(f"{name:>16}: median {m * 1000:7.1f} ms over {args.runs} runs (min {min(times[name]) * 1000:.1f})")
    print(f"           ratio: default/unconfined = {med['default profile'] / med['unconfined']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
