"""Client start-up: the berth CLI against the docker CLI, both talking to the same berthd.

    .venv/bin/python bench/cli.py [--runs 20]

Times `ps`, `version` and `run --rm busybox true` (plus `--version`, which makes no
request: the bare start of each client) for:
  berth         the berth CLI as a regular (wheel) install, in a venv of its own
                under the temp dir: what a user runs
  berth -e      the development venv's editable install (.venv/bin/berth), whose
                `site` runs setuptools' editable finder on every start
  docker        the docker CLI with DOCKER_HOST at the same berthd
  docker/dockerd  the docker CLI against Debian's dockerd, when dockerd is installed
Every case runs once to warm up, then all cases alternate `--runs` times so machine
noise hits them alike. Prints medians (ms) and the ratios berth/docker.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import time

import engines

ROOT = os.path.dirname(engines.HERE)
DOCKER = shutil.which("docker") or "docker"
IMAGE = "bench-busybox"
COMMANDS = {  # name: (berth's argv, docker's argv)
    "--version": (["--version"], ["--version"]),
    "ps": (["ps"], ["ps"]),
    "version": (["version"], ["version"]),
    "run --rm busybox true": (["run", "--rm", IMAGE, "true"], ["run", "--rm", "--network", "none", IMAGE, "true"]),
}


def install_berth(work: str) -> str:
    """A regular install of this tree in a fresh venv; the path of its `berth` script.

    The client needs only the standard library, so the wheel goes in without its
    dependencies (the daemon's); the script pip writes is the one users get.
    """
    venv = os.path.join(work, "venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    src = os.path.join(work, "src")  # a copy, so the build leaves nothing in the work tree
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".*", "__pycache__", "build", "*.egg-info", "tests", "bench", "docs"))
    wheels = os.path.join(work, "wheels")
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, src], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wheel = glob.glob(os.path.join(wheels, "berth-*.whl"))[0]
    subprocess.run([*pip, "--python", os.path.join(venv, "bin", "python"), "install", "--no-deps", wheel],
                   check=True)
    return os.path.join(venv, "bin", "berth")


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(cases: dict[tuple[str, str], tuple[list[str], dict[str, str]]], runs: int) -> dict[tuple[str, str], float]:
    """Median seconds of each case: one warm-up each, then `runs` rounds of all cases in turn."""
    times: dict[tuple[str, str], list[float]] = {key: [] for key in cases}
    for argv, env in cases.values():
        _time(argv, env)
    for _ in range(runs):
        for key, (argv, env) in cases.items():
            times[key].append(_time(argv, env))
    return {key: statistics.median(t) for key, t in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-dockerd", action="store_true", help="skip Debian's dockerd even when installed")
    args = parser.parse_args()
    work = engines.workdir()
    running: list[engines.Engine] = []
    try:
        berth_installed = install_berth(work)
        tar = engines.busybox_tar(work)
        berthd = engines.start_berthd(work)
        running.append(berthd)
        engines.import_image(berthd.sock, tar, IMAGE)
        clients = {"berth": (berth_installed, berthd.env()),
                   "berth -e": (os.path.join(engines.BIN, "berth"), berthd.env()),
                   "docker": (DOCKER, berthd.env())}
        if shutil.which("dockerd") and not args.no_dockerd:
            dockerd = engines.start_dockerd(work)
            running.append(dockerd)
            engines.import_image(dockerd.sock, tar, IMAGE)
            clients["docker/dockerd"] = (DOCKER, dockerd.env())
        cases = {}
        for command, (berth_args, docker_args) in COMMANDS.items():
            for client, (exe, env) in clients.items():
                cases[command, client] = ([exe, *(docker_args if client.startswith("docker") else berth_args)], env)
        med = measure(cases, args.runs)
    finally:
        for engine in reversed(running):
            engine.stop()
        engines.remove_workdir(work)
    names = list(clients)
    print(f"client start-up, medians of {args.runs} runs in ms (docker = docker CLI -> the same berthd)")
    print(f"  {'command':<24}" + "".join(f"{n:>16}" for n in names) + f"{'berth/docker':>14}{'berth -e/docker':>17}")
    for command in COMMANDS:
        row = "".join(f"{med[command, n] * 1000:16.1f}" for n in names)
        base = med[command, "docker"]
        print(f"  {command:<24}{row}{med[command, 'berth'] / base:14.2f}{med[command, 'berth -e'] / base:17.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
