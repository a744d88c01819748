"""`docker cp` of a 100 MB file into and out of a running container: the docker CLI
against a private berthd and against a private dockerd, same image, one run; and the
same file's tar PUT by httpx with a Content-Length (docker-py's and httpx's way; the
docker CLI's body is chunked), "in-cl".

    .venv/bin/python bench/cp.py [--mb 100] [--runs 5]

Prints the median MB/s of each direction on each engine and the ratios berth/docker,
then the CPU seconds (user+system, median) each process of the chain spent on one cp in:
the docker CLI, the daemon and its runtime manager (containerd, berth-containerd; their
reaped children included: dockerd's untar helper), from /proc/PID/stat around the cp.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

import engines
import httpx

DOCKER = shutil.which("docker") or "docker"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="berth-bench-cp-")
    try:
        src = os.path.join(work, "blob")
        with open(src, "wb") as f:
            f.write(os.urandom(args.mb << 20))
        tar = os.path.join(work, "blob.tar")
        with tarfile.open(tar, "w") as t:
            t.add(src, "blob-cl")
        with engines.side_by_side() as (docker, berth):
            ctrs = {}
            for name, engine in (("docker", docker), ("berth", berth)):
                ctrs[name] = subprocess.run([DOCKER, "run", "-d", "--network", "none", "bench-busybox", "sleep",
                                             "3600"], env=engine.env(), check=True, capture_output=True,
                                            text=True).stdout.strip()
            rates: dict[str, list[float]] = {f"{n} {d}": [] for n in ctrs for d in ("in", "out", "in-cl")}
            cpu: dict[str, dict[str, list[float]]] = {}
            try:
                for _ in range(args.runs):  # interleaved so machine noise hits both alike
                    for name, engine in (("docker", docker), ("berth", berth)):
                        env, cid = engine.env(), ctrs[name]
                        t = _cp_in([DOCKER, "cp", src, f"{cid}:/tmp/blob"], env, engine, cpu.setdefault(name, {}))
                        rates[f"{name} in"].append(args.mb / t)
                        out = os.path.join(work, f"out-{name}")
                        t = engines.time_command([DOCKER, "cp", f"{cid}:/tmp/blob", out], env)
                        rates[f"{name} out"].append(args.mb / t)
                        os.unlink(out)
                        rates[f"{name} in-cl"].append(args.mb / _put(engine.sock, cid, tar))
            finally:
                for name, engine in (("docker", docker), ("berth", berth)):
                    subprocess.run([DOCKER, "rm", "-f", ctrs[name]], env=engine.env(), capture_output=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"docker cp of {args.mb} MB (median of {args.runs}, MB/s; the docker CLI on both engines)")
    for k, v in med.items():
        print(f"  {k:>12}: {v:8.1f}")
    print(f"  ratio berth/docker: in {med['berth in'] / med['docker in']:.2f}, "
          f"out {med['berth out'] / med['docker out']:.2f}, in-cl {med['berth in-cl'] / med['docker in-cl']:.2f}")
    print("CPU seconds of one cp in (median; 2 cores shared by all)")
    for name, procs in cpu.items():
        print(f"  {name:>6}: " + ", ".join(f"{p} {statistics.median(v):.3f}" for p, v in procs.items()))
    return 0


def _chain(engine: engines.Engine) -> dict[str, int]:
    """The daemon and the children it started (its containerd)."""
    out = {f"{engine.name}d": engine.proc.pid}
    for pid, comm in engines.children(engine.proc.pid).items():
        out[comm.replace("berth-container", "berth-containerd")] = pid  # comm: 15 characters
    return out


def _cp_in(argv: list[str], env: dict[str, str], engine: engines.Engine, cpu: dict[str, list[float]]) -> float:
    """Seconds one cp takes; each process's CPU time added to `cpu`."""
    chain = _chain(engine)
    before = {name: engines.cpu_seconds([pid], reaped=True) for name, pid in chain.items()}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    cpu.setdefault("cli", []).append(usage.ru_utime + usage.ru_stime)
    for name, pid in chain.items():
        cpu.setdefault(name, []).append(engines.cpu_seconds([pid], reaped=True) - before[name])
    return took


def _put(sock: str, cid: str, tar: str) -> float:
    """Seconds a PUT of the tar takes, its body a file: httpx sends its Content-Length."""
    with httpx.Client(transport=httpx.HTTPTransport(uds=sock), base_url="http://engine", timeout=300) as c, \
            open(tar, "rb") as f:
        start = time.perf_counter()
        r = c.put(f"/containers/{cid}/archive", params={"path": "/tmp"}, content=f)
        took = time.perf_counter() - start
    assert r.status_code == 200, r.text
    return took


if __name__ == "__main__":
    sys.exit(main())
