"""`docker-compose up -d` and `down -v` of the test project (tests/clients/compose_project.py:
its files, made by its make(); two services, db with a named volume and a health check,
web built from a Dockerfile and waiting for db to be healthy, on one named network),
Debian's docker-compose 1.29 against a private berthd and a private Debian dockerd
(tests/dockerd.py) in one run, the same busybox image in both.

The project's first `up` builds web's image (not timed); then, alternating between the
engines, `up -d` (network, volume, db created and started, compose waiting for db's
health check, web created and started) and `down -v -t 1` (both stopped, removed, the
network and the volume removed) are timed, as the user sees them, from the CLI.

    .venv/bin/python bench/compose.py [--rounds 5] [--trace]

Prints the medians and the ratios berth/docker. --trace starts berthd with --debug and
prints its request log of the last round (each request's status and duration).

`--project three` times the shape issue 14 names instead — three services (web built
from a Dockerfile, db with a named volume, cache), one network, one volume — with no
health wait and services that end at SIGTERM, so that both engines' times are the
engine's work rather than the project's fixed waits (the health interval, the stop
timeout of an httpd that ignores SIGTERM as PID 1)."""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time

import apitimer
import engines

sys.path.insert(0, os.path.join(engines.HERE, ".."))
from tests import dockerd as dockerd_mod  # noqa: E402
from tests.clients import compose_project  # noqa: E402

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


def _timed(p: compose_project.Project, timer: apitimer.Timer, *args: str) -> tuple[float, float]:
    """(wall seconds of the command, seconds the engine was answering it)."""
    time.sleep(0.2)  # the previous command's connections are closed: their spans are done
    start = time.perf_counter()
    p.compose(*args)
    end = time.perf_counter()
    time.sleep(0.2)
    return end - start, timer.busy(start, end)


def _trace(log_path: str, since: int) -> None:
    with open(log_path, errors="replace") as f:
        f.seek(since)
        for line in f:
            if "berthd.api" in line and re.search(r"\b(GET|POST|DELETE|PUT|HEAD)\b", line):
                print("  " + line.rstrip()[-160:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--project", choices=("test", "three"), default="test",
                        help="the tests' project (health wait) or issue 14's three services")
    args = parser.parse_args()
    work = engines.workdir()
    docker = berth = None
    projects: list[compose_project.Project] = []
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
        pairs = [(n, make(envs[n], IMAGE, f"cb{n[0]}{os.getpid()}")) for n in ("docker", "berth")]
        projects = [p for _, p in pairs]
        for _, p in pairs:  # builds web, once
            p.compose("up", "-d")
            p.compose("down", "-v", "-t", "1")
        times: dict[str, dict[str, list[tuple[float, float]]]] = {n: {"up -d": [], "down -v": []} for n, _ in pairs}
        log = os.path.join(berth.root, "berthd.log")
        for r in range(args.rounds):
            for name, p in pairs if r % 2 == 0 else pairs[::-1]:
                since = os.path.getsize(log)
                times[name]["up -d"].append(_timed(p, timers[name], "up", "-d"))
                times[name]["down -v"].append(_timed(p, timers[name], "down", "-v", "-t", "1"))
                if args.trace and name == "berth" and r == args.rounds - 1:
                    print("berthd's requests, last round:")
                    _trace(log, since)
        print(f"{'docker-compose':26}{'docker':>10}{'berth':>10}   berth/docker   (median of {args.rounds})")
        for step in ("up -d", "down -v"):
            for col, what in ((0, "wall"), (1, "engine answering")):
                d, b = (statistics.median(t[col] for t in times[n][step]) for n in ("docker", "berth"))
                print(f"{step + ', ' + what:26}{d:>8.2f} s{b:>8.2f} s{b / d:>10.2f}")
    finally:
        for p in projects:
            compose_project.remove(p)
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
