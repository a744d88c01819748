"""Time `run` of a busybox `true` bundle: Debian's runc, the berth-runc CLI, the library.

    .venv/bin/python bench/runc.py [--runs 20]

Each way runs the same bundle (one shared rootfs, its own cgroup name) `--runs`
times after one warm-up run, from a private temporary directory it removes at
the end; it prints the median wall time of each and the ratios to runc.

The CLI runs without PYTHONDONTWRITEBYTECODE so that, as in a normal install,
our modules load from cached bytecode rather than being compiled every time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from rootfs import make_bundle  # noqa: E402

RUNC = "/usr/sbin/runc"
BERTH_RUNC = os.path.join(os.path.dirname(sys.executable), "berth-runc")


def _time_cli(argv_prefix: list[str], bundle: str, runs: int, env: dict[str, str]) -> list[float]:
    times = []
    for i in range(runs + 1):
        cid = f"bench-{uuid.uuid4().hex[:8]}"
        t0 = time.perf_counter()
        rc = subprocess.run([*argv_prefix, "run", "--bundle", bundle, cid], env=env,
                            stdin=subprocess.DEVNULL).returncode
        elapsed = time.perf_counter() - t0
        if rc != 0:
            raise SystemExit(f"{argv_prefix[0]} run exited {rc}")
        if i:  # the first run warms caches (bytecode, dentries)
            times.append(elapsed)
    return times


def _time_library(root: str, bundle: str, runs: int) -> list[float]:
    from berth import runc

    times = []
    for i in range(runs + 1):
        cid = f"bench-{uuid.uuid4().hex[:8]}"
        t0 = time.perf_counter()
        pid = runc.create(root, cid, bundle)
        runc.start(root, cid)
        _, status = os.waitpid(pid, 0)
        runc.delete(root, cid)
        elapsed = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"library run exited {status}")
        if i:
            times.append(elapsed)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="berth-bench-runc-")
    try:
        bundle = make_bundle(os.path.join(base, "bundle"), ["true"])
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        results = {
            "runc (CLI)": _time_cli([RUNC, "--root", os.path.join(base, "runc")], bundle, args.runs, env),
            "berth-runc (CLI)": _time_cli([BERTH_RUNC, "--root", os.path.join(base, "berth")], bundle, args.runs, env),
            "berth.runc (library)": _time_library(os.path.join(base, "lib"), bundle, args.runs),
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)
    base_median = statistics.median(results["runc (CLI)"])
    print(f"run of busybox `true`, {args.runs} runs each (median, min, max in ms; ratio of medians to runc)")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"  {name:22s} {med * 1000:7.1f} {min(times) * 1000:7.1f} {max(times) * 1000:7.1f}"
              f"   x{med / base_median:.2f}")


if __name__ == "__main__":
    main()
