"""`docker-compose up -d` and `down -v` of the test project (tests/clients/compose_project.py:
its files, made by its make(); two services, db with a named volume and a health check,
web built from a Dockerfile and waiting for db to be healthy, on one named network),
Debian's docker-compose 1.29 against a private berthd and a private Debian dockerd
(tests/dockerd.py) in one run, the same busybox image in both.

The project's first `up` builds web's image (not timed); then, alternating between the
engines, `up -d` (network, volume, db created and started, compose waiting for db's
health check, web created and started) and `down -v -t 1` (both stopped, removed, the
network and the volume removed) are timed, as the user sees them, from the CLI.

The same is done with Compose v2 (`docker compose`, the Go CLI plugin of
tests/clients/compose_v2.py, a project of its own name in the same directory): its
client costs ~0.1 s where 1.29's Python start-up is 2-3 s of each command.

    .venv/bin/python bench/compose.py [--rounds 5] [--trace] [--clients v1,v2]

Prints the medians and the ratios berth/docker, per client. --trace starts berthd with --debug and
prints its request log of the last round (each request's status and duration).

`--project three` times the shape issue 14 names instead — three services (web built
from a Dockerfile, db with a named volume, cache), one network, one volume — with no
health wait and services that end at SIGTERM, so that both engines' times are the
engine's work rather than the project's fixed waits (the health interval, the stop
timeout of an httpd that ignores SIGTERM as PID 1)."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import sys
import time

import subprocess
from collections.abc import Callable

import apitimer
import engines

sys.path.insert(0, os.path.join(engines.HERE, ".."))
from tests import dockerd as dockerd_mod  # noqa: E402
from tests.clients import compose_project, compose_v2  # noqa: E402

IMAGE = "bench-busybox"
# each service's PID 1 is a shell that ends at SIGTERM (a bare httpd as PID 1 ignores it)
_SERVE = "trap 'exit 0' TERM; httpd -f -p 80 -h {root} & wait"
THREE = f"""\
services:
  db:
    image: {{base}}
    command: ["sh", "-c", "echo db > /data/index.html; {_SERVE.format(root='/data')}"]
    volumes: ["data:/data"]
    networks: [backend]
  cache:
    image: {{base}}
    command: ["sh", "-c", "mkdir -p /www; echo cache > /www/index.html; {_SERVE.format(root='/www')}"]
    networks: [backend]
  web:
    build: ./web
    depends_on: [db, cache]
    networks: [backend]
    ports: ["80"]
volumes:
  data: {{{{}}}}
networks:
  backend: {{{{}}}}
"""
THREE_DOCKERFILE = f"""\
FROM {{base}}
RUN mkdir -p /www && echo web > /www/index.html
CMD ["sh", "-c", "{_SERVE.format(root='/www')}"]
"""


def _make_three(env: dict[str, str], base: str, name: str) -> compose_project.Project:
    p = compose_project.make(env, base, name)
    for path, text in (("docker-compose.yml", THREE), ("web/Dockerfile", THREE_DOCKERFILE)):
        with open(os.path.join(p.dir, path), "w") as f:
            f.write(text.format(base=base))
    return p
DOCKER_POOL = "base=10.250.0.0/16,size=24"  # away from berthd's bench pool (engines.BERTH_NET)


CLIENTS = {"v1": "docker-compose 1.29", "v2": f"compose v2 ({compose_v2.VERSION})"}
Run = Callable[..., object]  # runs one compose command of a project, checked


def _v2(p: compose_project.Project) -> Run:
    """`docker compose -p NAME ...` of p's directory, as the tests' V2 drives it."""
    def run(*args: str) -> None:
        r = subprocess.run(["docker", "compose", "--ansi", "never", "-p", p.name, *args], cwd=p.dir, env=p.env,
                           capture_output=True, text=True, timeout=240)
        assert r.returncode == 0, f"docker compose {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}"
    return run


def _timed(run: Run, timer: apitimer.Timer, *args: str) -> tuple[float, float]:
    """(wall seconds of the command, seconds the engine was answering it)."""
    time.sleep(0.2)  # the previous command's connections are closed: their spans are done
    start = time.perf_counter()
    run(*args)
    end = time.perf_counter()
    time.sleep(0.2)
    return end - start, timer.busy(start, end)


def _trace(log_path: str, since: int) -> None:
    """Each request of the round: when it ended, what, its status and duration."""
    with open(log_path, errors="replace") as f:
        f.seek(since)
        for line in f:
            m = re.search(r"(\d\d:\d\d:[\d,]+) DEBUG berthd\.api: Calling (\w+) (\S+): (\d+ in [\d.]+ ms)", line)
            if m:
                path = re.sub(r"/v1\.\d+", "", m[3].split("?filters=")[0])
                path = re.sub(r"[0-9a-f]{64}", lambda h: h[0][:8], path)[:72]
                print(f"  {m[1]} {m[2]:6} {path:72} {m[4]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--project", choices=("test", "three"), default="test",
                        help="the tests' project (health wait) or issue 14's three services")
    parser.add_argument("--clients", default="v1,v2", help="v1 (docker-compose 1.29), v2 (docker compose)")
    args = parser.parse_args()
    args.clients = args.clients.split(",")
    if unknown := [c for c in args.clients if c not in CLIENTS]:
        parser.error(f"unknown client {', '.join(unknown)}: {', '.join(CLIENTS)}")
    work = engines.workdir()
    docker = berth = None
    projects: list[tuple[str, compose_project.Project]] = []
    timers: dict[str, apitimer.Timer] = {}
    try:
        tar = engines.busybox_tar(work)
        docker = dockerd_mod.start(["--default-address-pool", DOCKER_POOL])
        berth = engines.start_berthd(work, ("--debug",) if args.trace else ())
        for sock in (docker.sock, berth.sock):
            engines.import_image(sock, tar, IMAGE)
        timers = {"docker": apitimer.Timer(docker.sock, os.path.join(work, "docker-api.sock")),
                  "berth": apitimer.Timer(berth.sock, os.path.join(work, "berth-api.sock"))}
        envs = {name: {**os.environ, "DOCKER_HOST": f"unix://{t.path}", "DOCKER_CONFIG": os.path.join(work, "cli")}
                for name, t in timers.items()}
        make = _make_three if args.project == "three" else compose_project.make
        compose = compose_v2.binary() if "v2" in args.clients else ""
        # runs[client][engine]: that client's command runner for its project on that engine
        runs: dict[str, dict[str, Run]] = {}
        for client in args.clients:
            runs[client] = {}
            for n in ("docker", "berth"):
                if client == "v1":
                    p = make(envs[n], IMAGE, f"cb{n[0]}{os.getpid()}")
                    runs[client][n] = p.compose
                else:
                    env = compose_v2.plugin_env(envs[n], compose, os.path.join(work, f"cli-v2-{n}"))
                    p = make(env, IMAGE, f"cv{n[0]}{os.getpid()}")
                    runs[client][n] = _v2(p)
                projects.append((client, p))
                runs[client][n]("up", "-d")  # builds web, once
                runs[client][n]("down", "-v", "-t", "1")
        times = {c: {n: {"up -d": [], "down -v": []} for n in ("docker", "berth")} for c in args.clients}
        log = os.path.join(berth.root, "berthd.log")
        for r in range(args.rounds):
            for client in args.clients:
                for name in ("docker", "berth") if r % 2 == 0 else ("berth", "docker"):
                    since = os.path.getsize(log)
                    run = runs[client][name]
                    times[client][name]["up -d"].append(_timed(run, timers[name], "up", "-d"))
                    times[client][name]["down -v"].append(_timed(run, timers[name], "down", "-v", "-t", "1"))
                    if args.trace and name == "berth" and r == args.rounds - 1:
                        print(f"berthd's requests, last round, {CLIENTS[client]}:")
                        _trace(log, since)
        for client in args.clients:
            print(f"{CLIENTS[client]:30}{'docker':>10}{'berth':>10}   berth/docker   (median of {args.rounds})")
            for step in ("up -d", "down -v"):
                for col, what in ((0, "wall"), (1, "engine answering")):
                    d, b = (statistics.median(t[col] for t in times[client][n][step]) for n in ("docker", "berth"))
                    print(f"{step + ', ' + what:30}{d:>8.2f} s{b:>8.2f} s{b / d:>10.2f}")
    finally:
        for client, p in projects:
            if client == "v1":
                compose_project.remove(p)
            else:
                with contextlib.suppress(AssertionError, subprocess.SubprocessError):
                    _v2(p)("down", "-v", "--rmi", "local", "-t", "1")
                shutil.rmtree(p.dir, ignore_errors=True)
        for t in timers.values():
            t.close()
        if berth is not None:
            berth.stop()
        if docker is not None:
            dockerd_mod.stop(docker)
        engines.remove_workdir(work)
        engines.remove_network()
    return 0


if __name__ == "__main__":
    sys.exit(main())
