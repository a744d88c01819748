"""Client start-up: the berth CLI against the docker CLI, both talking to the same berthd.

    .venv/bin/python bench/cli.py [--runs 20] [--python /usr/bin/python3] [--no-dockerd]

Times `ps`, `version` and `run --rm busybox true` (plus `--version`, which makes no
request: the bare start of each client) for:
  berth         the berth CLI as a regular (wheel) install, in a venv of its own
                under the temp dir: what a user runs (the venv's interpreter is
                --python, by default the one behind .venv)
  berth -e      the development venv's editable install (.venv/bin/berth), whose
                `site` runs setuptools' editable finder on every start
  docker        the docker CLI with DOCKER_HOST at the same berthd
  docker/dockerd  the docker CLI against Debian's dockerd, when dockerd is installed
Command by command, every client runs once to warm up, then all alternate `--runs`
times (every other round in reverse order) so machine noise hits them alike. Prints
the medians (ms) of wall time and of CPU time (user + system, less swayed by other
load on the machine), the ratios berth/docker, and the start of the installed venv's
bare interpreter (no import, no teardown): the floor of any Python client.
"""

from __future__ import annotations

import argparse
import glob
import os
import resource
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


_TOP_LEVEL_SKIPPED = {"build", "tests", "bench", "docs"}  # top level only: daemon/build is a package


def _not_installed(folder: str, names: list[str]) -> set[str]:
    top = os.path.samefile(folder, ROOT)
    return {n for n in names if n.startswith(".") or n == "__pycache__" or n.endswith(".egg-info")
            or (top and n in _TOP_LEVEL_SKIPPED)}


def install_berth(work: str, python: str = sys.executable) -> str:
    """A regular install of this tree in a fresh venv of `python`; the path of its `berth` script.

    The client needs only the standard library, so the wheel goes in without its
    dependencies (the daemon's); the script pip writes is the one users get.
    """
    venv = os.path.join(work, "venv")
    subprocess.run([python, "-m", "venv", "--without-pip", venv], check=True)
    src = os.path.join(work, "src")  # a copy, so the build leaves nothing in the work tree
    shutil.copytree(ROOT, src, ignore=_not_installed)
    wheels = os.path.join(work, "wheels")
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, src], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wheel = glob.glob(os.path.join(wheels, "berth-*.whl"))[0]
    subprocess.run([*pip, "--python", os.path.join(venv, "bin", "python"), "install", "--no-deps", wheel],
                   check=True)
    return os.path.join(venv, "bin", "berth")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # waited-for children only: engines are not
    return usage.ru_utime + usage.ru_stime


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of the command."""
    cpu, start = _cpu(), time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, _cpu() - cpu


def measure(cases: dict[str, tuple[list[str], dict[str, str]]], runs: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each case: one warm-up each, then `runs` rounds of all
    cases in turn, every other round in reverse order, so neither goes first after the other."""
    times: dict[str, list[tuple[float, float]]] = {key: [] for key in cases}
    for argv, env in cases.values():
        _time(argv, env)
    order = list(cases)
    for i in range(runs):
        for key in order if i % 2 == 0 else reversed(order):
            argv, env = cases[key]
            times[key].append(_time(argv, env))
    return {key: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
            for key, t in times.items()}


def _report(med: dict[tuple[str, str], tuple[float, float]], names: list[str], runs: int,
            interpreter: str) -> None:
    for title, which in (("wall time", 0), ("CPU time (user + system)", 1)):
        print(f"client start-up, {title}: medians of {runs} runs in ms (docker = docker CLI -> the same berthd)")
        print(f"  {'command':<24}" + "".join(f"{n:>16}" for n in names)
              + f"{'berth/docker':>14}{'berth -e/docker':>17}")
        for command in COMMANDS:
            row = "".join(f"{med[command, n][which] * 1000:16.1f}" for n in names)
            base = med[command, "docker"][which]
            print(f"  {command:<24}{row}{med[command, 'berth'][which] / base:14.2f}"
                  f"{med[command, 'berth -e'][which] / base:17.2f}")
        print(f"  {'(python alone)':<24}{med['--version', 'python alone'][which] * 1000:16.1f}"
              "   the installed berth's interpreter, no import, no teardown")
    print(f"  (python alone: {interpreter} in the venv berth is installed in)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--python", default=sys.executable, help="the interpreter of the installed berth's venv")
    parser.add_argument("--no-dockerd", action="store_true", help="skip Debian's dockerd even when installed")
    args = parser.parse_args()
    work = engines.workdir()
    running: list[engines.Engine] = []
    try:
        berth_installed = install_berth(work, args.python)
        venv_python = os.path.join(os.path.dirname(berth_installed), "python")
        interpreter = os.path.realpath(venv_python)
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
        med: dict[tuple[str, str], tuple[float, float]] = {}
        # one command at a time, so that what a `run` leaves the daemons doing (removal,
        # a shim's exit) does not land on the next command's first client
        for command, (berth_args, docker_args) in COMMANDS.items():
            cases = {client: ([exe, *(docker_args if client.startswith("docker") else berth_args)], env)
                     for client, (exe, env) in clients.items()}
            if command == "--version":
                cases["python alone"] = ([venv_python, "-c", "import os; os._exit(0)"], berthd.env())
            med.update(((command, client), m) for client, m in measure(cases, args.runs).items())
    finally:
        for engine in reversed(running):
            engine.stop()
        engines.remove_workdir(work)
    _report(med, list(clients), args.runs, interpreter)
    return 0


if __name__ == "__main__":
    sys.exit(main())
