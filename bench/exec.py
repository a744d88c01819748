"""`exec CONTAINER true`: berth against Docker, in one run.

    .venv/bin/python bench/exec.py [--runs 20]

On a private dockerd and a private berthd (same busybox tarball), one long-running
container each; then, alternating between the engines after a warm-up, times
`docker exec C true` (the real docker CLI against both), `berth exec C true` (berthd),
and the bare API round (POST /containers/{id}/exec, POST /exec/{id}/start hijacked,
GET /exec/{id}/json, from this process: no CLI start-up in it). Prints medians and
the ratios berth/docker. Target: at or below half of Docker's time (the shim already
holds the container; no new interpreter and no new runtime process on the path).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import time

import engines

DOCKER = shutil.which("docker") or "docker"
BERTH = os.path.join(engines.BIN, "berth")


def _api_exec(sock_path: str, cid: str) -> None:
    """One exec of `true` over the API, as the CLI does it, from a warm process."""
    status, data = engines.api(sock_path, "POST", f"/containers/{cid}/exec",
                               json.dumps({"Cmd": ["true"], "AttachStdout": True, "AttachStderr": True}).encode())
    eid = json.loads(data)["Id"]
    body = b'{"Detach":false,"Tty":false}'
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.sendall(b"POST /exec/" + eid.encode() + b"/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
              b"Upgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)
    while s.recv(65536):
        pass
    s.close()
    status, data = engines.api(sock_path, "GET", f"/exec/{eid}/json")
    if json.loads(data)["ExitCode"] != 0:
        raise RuntimeError(f"exec in {sock_path}: {data!r}")


def _timed(run) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _cli(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    with engines.side_by_side() as (docker, berth):
        cids = {}
        for e in (docker, berth):
            out = subprocess.run([DOCKER, "run", "-d", "--network", "none", "bench-busybox", "sleep", "100000"],
                                 env=e.env(), check=True, capture_output=True, text=True)
            cids[e.name] = out.stdout.strip()
        ways = {
            "docker exec (CLI)": {e.name: (lambda e=e: _cli([DOCKER, "exec", cids[e.name], "true"], e.env()))
                                  for e in (docker, berth)},
            "API round": {e.name: (lambda e=e: _api_exec(e.sock, cids[e.name])) for e in (docker, berth)},
            "berth exec (CLI)": {"berth": lambda: _cli([BERTH, "exec", cids["berth"], "true"], berth.env())},
        }
        times: dict[tuple[str, str], list[float]] = {}
        for way, runs in ways.items():
            for run in runs.values():
                run()  # warm-up
            for _ in range(args.runs):
                for name, run in runs.items():
                    times.setdefault((way, name), []).append(_timed(run))
        for e in (docker, berth):
            subprocess.run([DOCKER, "rm", "-f", cids[e.name]], env=e.env(), capture_output=True)
    print(f"exec CONTAINER true, median of {args.runs} (ms):")
    docker_cli = statistics.median(times[("docker exec (CLI)", "docker")]) * 1e3
    for (way, name), values in times.items():
        ms = statistics.median(values) * 1e3
        peer = times.get((way, "docker")) if name == "berth" else None
        base = statistics.median(peer) * 1e3 if peer else docker_cli
        ratio = "" if name == "docker" else f"   berth/docker {ms / base:.2f}"
        print(f"  {way:<20} {name:<7} {ms:8.1f}{ratio}")
    print("(cp in/out of 100 MB: bench/cp.py)")


if __name__ == "__main__":
    main()
