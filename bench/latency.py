"""From a container's write to the attached client's read: berth against Docker, one run.

    .venv/bin/python bench/latency.py [--lines 200]

On a private dockerd and a private berthd (same busybox tarball), the docker CLI runs
`docker run -i --rm bench-busybox cat` against each. The bench writes a line to each
CLI's stdin and times until the same line comes back on its stdout: client -> engine ->
the container's stdin -> cat -> its stdout -> engine -> the attach stream -> client.
Lines alternate between the engines so machine noise hits both alike. Prints the
median and p90 round trip, and the ratio berth/docker.

Then both containers sit idle, still attached, and each daemon's CPU time and wakeups
over a few seconds are printed (berthd alone; dockerd alone), from the kernel's schedstat.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

import engines

DOCKER = shutil.which("docker") or "docker"
IDLE_SECONDS = 5.0


class Echo:
    """One `docker run -i cat` and its pipes; `round_trip` sends a line and waits for it."""

    def __init__(self, engine: engines.Engine) -> None:
        self.engine = engine
        self.proc = subprocess.Popen([DOCKER, "run", "-i", "--rm", "--network", "none", "bench-busybox", "cat"],
                                     env=engine.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in, self._out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        self._buf = b""

    def round_trip(self, line: bytes) -> float:
        start = time.perf_counter()
        os.write(self._in, line + b"\n")
        while b"\n" not in self._buf:
            data = os.read(self._out, 65536)
            if not data:
                raise RuntimeError(f"{self.engine.name}: the client ended")
            self._buf += data
        took = time.perf_counter() - start
        got, self._buf = self._buf.split(b"\n", 1)
        if got != line:
            raise RuntimeError(f"{self.engine.name}: sent {line!r}, got {got!r}")
        return took

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()  # cat's stdin ends, so does the container (--rm removes it)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _cpu(pid: int) -> tuple[float, int]:
    """CPU time (ms) and times scheduled in (wakeups) of every thread of the process, from
    /proc/PID/task/*/schedstat: nanoseconds, where /proc/PID/stat counts 10 ms ticks."""
    ns = slices = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                run_ns, _, n = f.read().split()
        except OSError:  # a thread that just ended
            continue
        ns, slices = ns + int(run_ns), slices + int(n)
    return ns / 1e6, slices


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200)
    args = parser.parse_args()
    with engines.side_by_side() as (docker, berth):
        echoes = {"berth": Echo(berth), "docker": Echo(docker)}
        try:
            for echo in echoes.values():
                for _ in range(10):  # warm-up, not counted (the first waits for the container)
                    echo.round_trip(b"warm-up")
            times: dict[str, list[float]] = {name: [] for name in echoes}
            for i in range(args.lines):
                for name, echo in echoes.items():
                    times[name].append(echo.round_trip(f"line {i}".encode()))
            time.sleep(1)
            before = {name: _cpu(e.engine.proc.pid) for name, e in echoes.items()}
            time.sleep(IDLE_SECONDS)
            idle = {}
            for name, e in echoes.items():
                ms, wakeups = _cpu(e.engine.proc.pid)
                idle[name] = (ms - before[name][0], wakeups - before[name][1])
        finally:
            for echo in echoes.values():
                echo.close()
    med = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        p90 = statistics.quantiles(t, n=10)[-1]
        print(f"{name:>8}: write -> attached read, median {med[name] * 1000:6.2f} ms, "
              f"p90 {p90 * 1000:6.2f} ms over {args.lines} lines (min {min(t) * 1000:.2f})")
    print(f"   ratio: berth/docker = {med['berth'] / med['docker']:.2f}")
    for name, (ms, wakeups) in idle.items():
        daemon = "berthd" if name == "berth" else "dockerd"
        print(f"{name:>8}: {daemon} while its attached container idles {IDLE_SECONDS:.0f} s: "
              f"{ms:.1f} ms CPU, {wakeups} wakeups (all threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
