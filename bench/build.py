"""docker build, first and with nothing changed: berth against Docker's classic builder.

    sudo .venv/bin/python bench/build.py [--runs 2] [--files 3000] [--dd-mb 64]

The same context (FILES small files in a few hundred directories) and Dockerfile
(COPY of the tree, three RUN dd of DD_MB each, a second COPY, CMD) are built by the
docker CLI (DOCKER_BUILDKIT=0: the classic builder API) against a private dockerd and
a private berthd, each with the same busybox imported. "first" builds with --no-cache
(the very first is cold), "rebuild" again with nothing changed (every step from the
cache). Prints the median seconds of each and berth's time over Docker's.
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from bench import engines  # noqa: E402

DOCKERFILE = """FROM bench-busybox
COPY tree /tree
RUN dd if=/dev/zero of=/big1 bs=1M count={mb}
RUN dd if=/dev/zero of=/big2 bs=1M count={mb} && rm /big1
COPY more /more
RUN dd if=/dev/urandom of=/big3 bs=1M count={mb}
CMD ["sh"]
"""


def make_context(root: str, files: int, mb: int) -> None:
    for i in range(files):
        d = os.path.join(root, "tree", f"d{i % 300:03d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i}.txt"), "w") as f:
            f.write(f"file {i}\n" * 20)
    os.makedirs(os.path.join(root, "more"))
    with open(os.path.join(root, "more", "x"), "w") as f:
        f.write("x\n")
    with open(os.path.join(root, "Dockerfile"), "w") as f:
        f.write(DOCKERFILE.format(mb=mb))


def build(engine: engines.Engine, ctx: str, tag: str, nocache: bool) -> float:
    env = {**engine.env(), "DOCKER_BUILDKIT": "0", "DOCKER_CONFIG": os.path.join(engine.root, "cli")}
    cmd = ["docker", "build", "-q", "--network", "none", "-t", tag, *(["--no-cache"] if nocache else []), ctx]
    start = time.monotonic()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    took = time.monotonic() - start
    if r.returncode != 0:
        raise RuntimeError(f"{engine.name} build failed: {r.stdout[-2000:]} {r.stderr[-2000:]}")
    return took


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--files", type=int, default=3000)
    p.add_argument("--dd-mb", type=int, default=64)
    args = p.parse_args()
    ctx = tempfile.mkdtemp(prefix="bench-build-ctx-")
    try:
        make_context(ctx, args.files, args.dd_mb)
        times: dict[str, dict[str, list[float]]] = {"docker": {"first": [], "rebuild": []},
                                                    "berth": {"first": [], "rebuild": []}}
        with engines.side_by_side() as (docker, berth):
            for run in range(args.runs):
                for engine in (docker, berth):
                    times[engine.name]["first"].append(build(engine, ctx, "bench-build:1", nocache=run > 0))
                    times[engine.name]["rebuild"].append(build(engine, ctx, "bench-build:1", nocache=False))
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    print(f"build of {args.files} files + 3x RUN dd {args.dd_mb} MB, docker CLI (classic builder), "
          f"median of {args.runs}")
    print(f"{'':10}{'docker s':>10}{'berth s':>10}{'berth/docker':>14}")
    for what in ("first", "rebuild"):
        d, b = statistics.median(times["docker"][what]), statistics.median(times["berth"][what])
        print(f"{what:10}{d:10.2f}{b:10.2f}{b / d:14.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
