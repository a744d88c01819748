"""`exec CONTAINER true`: berth against Docker, in one run.

    .venv/bin/python bench/exec.py [--runs 20] [--python /usr/bin/python3]

On a private dockerd and a private berthd (same busybox tarball), one long-running
container each; then, alternating between the engines after a warm-up, times
`docker exec C true` (the real docker CLI against both), `berth exec C true` (berthd),
and the bare API round (POST /containers/{id}/exec, POST /exec/{id}/start hijacked,
GET /exec/{id}/json, from this process: no CLI start-up in it; then with the docker CLI's
HEAD /_ping and container inspect before it, the five requests `docker exec` makes).
Prints medians and the ratios berth/docker. Target: at or below half of Docker's time
(the shim already holds the container; no new interpreter, no new runtime process).

`berth` is the CLI as users get it: this tree built into a wheel and installed, once,
into a fresh venv of --python (Debian's python3 by default, as scripts/install's
/opt/berth), with the `berth` script the install writes; not the dev venv's editable install,
whose `site` runs setuptools' finder (pathlib, re, urllib) at every start. The floors
are printed beside: both CLIs against a canned API that does no work (bench/noop_api.py),
and the installed venv's bare interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

import cli
import engines
import noop_api

DOCKER = shutil.which("docker") or "docker"


def _api_exec(sock_path: str, cid: str, as_docker_cli: bool = False) -> None:
    """One exec of `true` over the API, as the CLI does it, from a warm process; with
    `as_docker_cli`, first the two requests the docker CLI sends before (the ping of its
    version negotiation, the container's inspect): all five the CLI waits for."""
    if as_docker_cli:
        engines.api(sock_path, "HEAD", "/_ping")
        engines.api(sock_path, "GET", f"/containers/{cid}/json")
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
    p.add_argument("--python", default="/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable,
                   help="the interpreter of the installed berth's venv")
    args = p.parse_args()
    install = engines.workdir()
    try:
        berth_cli = cli.install_berth(install, args.python)
        interpreter = os.path.realpath(os.path.join(os.path.dirname(berth_cli), "python"))
        times = _measure(args.runs, berth_cli, install)
    finally:
        engines.remove_workdir(install)
    _report(times, args.runs, interpreter)


def _measure(runs: int, berth_cli: str, work: str) -> dict[tuple[str, str], list[float]]:
    noop_sock = os.path.join(work, "noop.sock")
    noop = noop_api.start(noop_sock)
    noop_env = dict(os.environ, DOCKER_HOST=f"unix://{noop_sock}", BERTH_HOST=f"unix://{noop_sock}")
    venv_python = os.path.join(os.path.dirname(berth_cli), "python")
    try:
        return _measure_on_engines(runs, berth_cli, noop_env, venv_python)
    finally:
        noop.close()


def _measure_on_engines(runs: int, berth_cli: str, noop_env: dict[str, str],
                        venv_python: str) -> dict[tuple[str, str], list[float]]:
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
            "+ ping, inspect": {e.name: (lambda e=e: _api_exec(e.sock, cids[e.name], True)) for e in (docker, berth)},
            "berth exec (CLI)": {"berth": lambda: _cli([berth_cli, "exec", cids["berth"], "true"], berth.env())},
            # the floors: each CLI against an API that does no work, and the bare interpreter
            "vs no-op API": {"docker": lambda: _cli([DOCKER, "exec", noop_api.CONTAINER, "true"], noop_env),
                             "berth": lambda: _cli([berth_cli, "exec", noop_api.CONTAINER, "true"], noop_env)},
            "python alone": {"berth": lambda: _cli([venv_python, "-c", "import os; os._exit(0)"], noop_env)},
        }
        times: dict[tuple[str, str], list[float]] = {}
        for way, by_name in ways.items():
            for run in by_name.values():
                run()  # warm-up
            for i in range(runs):  # every other round in reverse order: neither always goes first
                for name in by_name if i % 2 == 0 else reversed(by_name):
                    times.setdefault((way, name), []).append(_timed(by_name[name]))
        for e in (docker, berth):
            subprocess.run([DOCKER, "rm", "-f", cids[e.name]], env=e.env(), capture_output=True)
    return times


def _report(times: dict[tuple[str, str], list[float]], runs: int, interpreter: str) -> None:
    print(f"exec CONTAINER true, median of {runs} (ms):")
    docker_cli = statistics.median(times[("docker exec (CLI)", "docker")]) * 1e3
    for (way, name), values in times.items():
        ms = statistics.median(values) * 1e3
        peer = times.get((way, "docker")) if name == "berth" else None
        base = statistics.median(peer) * 1e3 if peer else docker_cli
        ratio = "" if name == "docker" else f"   berth/docker {ms / base:.2f}"
        print(f"  {way:<20} {name:<7} {ms:8.1f}{ratio}")
    print(f"  (berth: a wheel install in a venv of {interpreter}; ratios without a docker peer are to"
          f" `docker exec` on dockerd, {docker_cli:.1f} ms; target 0.50)")
    print("(cp in/out of 100 MB: bench/cp.py)")


if __name__ == "__main__":
    main()
