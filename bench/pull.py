"""Pull of a ~200 MB multi-layer image from a local registry: berth against Docker.

    sudo .venv/bin/python bench/pull.py [--runs 3] [--layers 4] [--layer-mb 50]

Makes an image of LAYERS layers of incompressible data (gzip), pushes it with skopeo
into Debian's docker-registry on 127.0.0.1, then pulls it RUNS times into each
engine, alternately, every time into a freshly started private engine (nothing
cached). Prints MB/s (compressed bytes over the wall time of POST /images/create
until its stream ends) with the ratio, and the peak RSS of the daemons during the
pull (sampled every 10 ms): berthd and berth-containerd; dockerd and its containerd.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from bench import engines  # noqa: E402
from tests.images import oci  # noqa: E402
from tests.images.registry import Registry  # noqa: E402


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakRss:
    """The highest RSS each pid reaches while the block runs."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.peak = {name: _rss_kb(pid) for name, pid in pids.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], _rss_kb(pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def make_image(layers: int, layer_mb: int, registry: Registry) -> tuple[str, int]:
    layout = oci.Layout(tempfile.mkdtemp(prefix="berth-bench-oci-"))
    parts = [oci.Layer(oci.tar_bytes([(f"layer{i}/data", "file", os.urandom(layer_mb << 20))]), "gzip")
             for i in range(layers)]
    parts.insert(0, oci.Layer(oci.tar_bytes(oci.busybox_entries("bench")), "gzip"))
    desc = layout.image(parts, ["true"])
    layout.tag(desc, "big")
    oci.push(layout, "big", f"{registry.host}/bench/big:v1")
    size = sum(len(p.blob) for p in parts)
    engines.shutil.rmtree(layout.path, ignore_errors=True)
    return f"{registry.host}/bench/big", size


def _pull(engine: engines.Engine, repo: str) -> float:
    elapsed, status, body = engines.timed_request(engine, "POST", f"/images/create?fromImage={repo}&tag=v1")
    if status != 200 or b'"error' in body or b"Status:" not in body:
        raise RuntimeError(f"{engine.name} pull failed: {status} {body[-400:]!r}")
    return elapsed


def one_run(kind: str, repo: str) -> tuple[float, dict[str, int]]:
    with engines.fresh(kind) as engine:
        if kind == "docker":
            pids = {"dockerd": engine.proc.pid}
            for child, comm in engines.children(engine.proc.pid).items():
                if comm == "containerd":
                    pids["containerd"] = child
        else:
            with open(os.path.join(engine.root, "exec", "berth-containerd.pid")) as f:
                pids = {"berthd": engine.proc.pid, "berth-containerd": int(f.read())}
        with PeakRss(pids) as rss:
            elapsed = _pull(engine, repo)
        return elapsed, rss.peak


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--layer-mb", type=int, default=50)
    args = p.parse_args()
    registry = Registry()
    registry.start()
    try:
        repo, size = make_image(args.layers, args.layer_mb, registry)
        mb = size / 1e6
        print(f"image: {args.layers + 1} layers, {mb:.1f} MB compressed, from {registry.host}")
        times: dict[str, list[float]] = {"docker": [], "berth": []}
        peaks: dict[str, dict[str, int]] = {"docker": {}, "berth": {}}
        for _ in range(args.runs):
            for kind in ("docker", "berth"):
                elapsed, peak = one_run(kind, repo)
                times[kind].append(elapsed)
                for name, kb in peak.items():
                    peaks[kind][name] = max(peaks[kind].get(name, 0), kb)
                print(f"  {kind:6} {elapsed:6.2f} s  {mb / elapsed:6.1f} MB/s", flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"\nmedian of {args.runs}:")
        for kind in ("docker", "berth"):
            mem = ", ".join(f"{n} {kb / 1024:.0f} MB" for n, kb in sorted(peaks[kind].items()))
            print(f"  {kind:6} {med[kind]:6.2f} s  {mb / med[kind]:6.1f} MB/s   peak RSS: {mem}")
        print(f"  ratio berth/docker throughput: {med['docker'] / med['berth']:.2f}x")
    finally:
        registry.stop()


if __name__ == "__main__":
    main()
