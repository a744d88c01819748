"""What --userns-remap costs `run --rm busybox true`, berthd beside dockerd, both started with
`--userns-remap default`: the first container of a freshly imported image (berth-containerd
makes the image's layers shifted for the remapped root then; dockerd shifted them at import)
and the second one (berth reuses the shifted copy). Each round imports a new image (one
file differs, so its chain is new); the imports are not timed.

    .venv/bin/python bench/userns.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys

import engines

CLI = {"berth": os.path.join(engines.BIN, "berth"), "docker": shutil.which("docker") or "docker"}
REMAP = ["--userns-remap", "default"]


def _image(work: str, n: int) -> str:
    """The bench busybox with /round holding `n`: the same files, a chain of its own."""
    root = os.path.join(work, "bb-rootfs")
    if not os.path.isdir(root):
        engines.rootfs.make_rootfs(root)
    with open(os.path.join(root, "round"), "w") as f:
        f.write(f"{n}\n")
    tar = os.path.join(work, f"busybox-{n}.tar")
    subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
    return tar


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = engines.workdir()
    os.chmod(work, 0o711)  # dockerd's remapped root must walk to its data root
    started: list[engines.Engine] = []
    try:
        berth = engines.start_berthd(work, REMAP)  # first: it makes dockremap and its ranges, once
        started.append(berth)
        docker = engines.start_dockerd(work, extra=REMAP)
        started.append(docker)
        times: dict[tuple[str, str], list[float]] = {}
        for n in range(args.rounds):
            tar = _image(work, n)
            for engine in (berth, docker):
                engines.import_image(engine.sock, tar, f"bench-userns-{n}")
                cmd = [CLI[engine.name], "run", "--rm", "--network", "none", f"bench-userns-{n}", "true"]
                for which in ("first", "second"):
                    times.setdefault((engine.name, which), []).append(engines.time_command(cmd, engine.env()))
    finally:
        for engine in started:
            engine.stop()
        engines.remove_workdir(work)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"run --rm busybox true under --userns-remap default, median of {args.rounds} rounds (ms)")
    print(f"{'':>8} {'berth':>8} {'docker':>8} {'berth/docker':>13}")
    for which in ("first", "second"):
        b, d = med[("berth", which)], med[("docker", which)]
        print(f"{which:>8} {b * 1000:8.1f} {d * 1000:8.1f} {b / d:13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
