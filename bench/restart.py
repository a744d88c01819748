"""Crash to running again under `--restart always`: berth against Docker, in one run.

    .venv/bin/python bench/restart.py [--runs 5]

On a private dockerd and a private berthd (same busybox tarball), alternating between the
engines: a new container `sleep 1000` with RestartPolicy always is started, its process
is killed with SIGKILL from outside (a crash: no API call), and the time is taken until
inspect shows it running again under a new, live pid. A new container each round, so
that each crash is a first one (both engines wait 100 ms before a first restart, and
double that for a container that crashes again within 10 s). Polls inspect every 2 ms
from this process, against both alike. Prints medians and the ratio berth/docker.
Target: at or below Docker's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import time

import engines


def _inspect(sock: str, cid: str) -> dict:
    status, data = engines.api(sock, "GET", f"/containers/{cid}/json")
    if status != 200:
        raise RuntimeError(f"inspect {cid}: {status} {data!r}")
    return json.loads(data)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _one(engine: engines.Engine, image: str) -> float:
    body = json.dumps({"Image": image, "Cmd": ["sleep", "1000"],
                       "HostConfig": {"RestartPolicy": {"Name": "always"}, "NetworkMode": "none"}}).encode()
    status, data = engines.api(engine.sock, "POST", "/containers/create", body)
    if status != 201:
        raise RuntimeError(f"{engine.name} create: {status} {data!r}")
    cid = json.loads(data)["Id"]
    try:
        status, data = engines.api(engine.sock, "POST", f"/containers/{cid}/start")
        if status != 204:
            raise RuntimeError(f"{engine.name} start: {status} {data!r}")
        pid = _inspect(engine.sock, cid)["State"]["Pid"]
        start = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        deadline = start + 60
        while time.perf_counter() < deadline:
            st = _inspect(engine.sock, cid)["State"]
            if st["Status"] == "running" and st["Pid"] not in (0, pid) and _alive(st["Pid"]):
                return time.perf_counter() - start
            time.sleep(0.002)
        raise RuntimeError(f"{engine.name}: not restarted within 60 s")
    finally:
        engines.api(engine.sock, "DELETE", f"/containers/{cid}?force=1")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    times: dict[str, list[float]] = {"docker": [], "berth": []}
    with engines.side_by_side() as (docker, berth):
        for engine in (docker, berth):
            _one(engine, "bench-busybox")  # warm-up
        for _ in range(a.runs):
            for engine in (docker, berth):
                times[engine.name].append(_one(engine, "bench-busybox"))
    d, b = statistics.median(times["docker"]), statistics.median(times["berth"])
    print(f"crash -> running again (--restart always), median of {a.runs}:")
    print(f"  docker {d * 1000:8.1f} ms")
    print(f"  berth  {b * 1000:8.1f} ms   berth/docker {b / d:.2f}")


if __name__ == "__main__":
    main()
