"""Push of a ~200 MB multi-layer image into a local registry: berth against Docker.

    sudo .venv/bin/python bench/push.py [--runs 3] [--layers 4] [--layer-mb 50]

Builds one docker-archive of LAYERS gzip layers of incompressible data (plus a busybox
layer) and loads it into each engine, freshly started and private, so that both hold
the very same image; then, every run into a new docker-registry on 127.0.0.1 (nothing
there yet: every blob is uploaded), times POST /images/{name}/push until its stream
ends, alternating engines. Prints MB/s (the gzip'd layer bytes over the wall time)
and the ratio. What each engine does differs by design: dockerd stores layers
uncompressed and gzips them again on every push; berth keeps the blobs it received and
sends them as they are (the digests the image was loaded with).

    sudo .venv/bin/python bench/push.py --built [--runs 3] [--built-mb 100]

The built case: the same busybox imported into each engine, then `docker build` (the
classic builder) of a COPY of BUILT_MB of data (half random, half text) and a RUN;
both engines hold those layers uncompressed, and gzip them at push. Times the first
push (into a new registry) and a second one (every blob there: nothing is sent), and
prints the bytes the registry got for the layers.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import statistics
import sys
import tarfile
import subprocess
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from bench import engines  # noqa: E402
from tests.images import oci  # noqa: E402
from tests.images.registry import Registry  # noqa: E402


def make_archive(layers: int, layer_mb: int, path: str) -> int:
    """A docker-archive (manifest.json, config, gzip layers); returns the layers' bytes."""
    tars = [oci.tar_bytes(oci.busybox_entries("bench"))]
    tars += [oci.tar_bytes([(f"layer{i}/data", "file", os.urandom(layer_mb << 20))]) for i in range(layers)]
    blobs = [gzip.compress(t, compresslevel=1, mtime=0) for t in tars]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["true"]},
                         "created": "2024-01-01T00:00:00Z",
                         "rootfs": {"type": "layers", "diff_ids": [oci.digest(t) for t in tars]}}).encode()
    files = [(f"{oci.digest(b)[7:]}.tar.gz", b) for b in blobs] + [("config.json", config)]
    files.append(("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": ["bench/push:v1"],
                                                "Layers": [n for n, _ in files[:-1]]}]).encode()))
    with tarfile.open(path, "w") as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return sum(len(b) for b in blobs)


def _load(engine: engines.Engine, archive: str) -> None:
    with open(archive, "rb") as f:
        status, body = engines.api(engine.sock, "POST", "/images/load?quiet=1", f.read(), "application/x-tar")
    if status != 200 or b"Loaded image" not in body:
        raise RuntimeError(f"{engine.name} load failed: {status} {body[-300:]!r}")


def _push(engine: engines.Engine, registry: Registry) -> float:
    name = f"{registry.host}/bench/push"
    status, body = engines.api(engine.sock, "POST", f"/images/bench/push:v1/tag?repo={name}&tag=v1")
    if status != 201:
        raise RuntimeError(f"{engine.name} tag failed: {status} {body!r}")
    elapsed, status, out = engines.timed_request(engine, "POST", f"/images/{name}/push?tag=v1",
                                                 {"X-Registry-Auth": "e30="})
    if status != 200 or b'"error' in out or b"digest: sha256:" not in out:
        raise RuntimeError(f"{engine.name} push failed: {status} {out[-400:]!r}")
    return elapsed


BUILT_DOCKERFILE = """FROM bench-busybox
COPY data /data
RUN cp /data/text /copy.txt
CMD ["sh"]
"""


def make_context(root: str, mb: int) -> None:
    os.makedirs(os.path.join(root, "data"))
    with open(os.path.join(root, "data", "random"), "wb") as f:
        f.write(os.urandom((mb << 20) // 2))
    with open(os.path.join(root, "data", "text"), "w") as f:
        n, line = 0, 0
        while n < (mb << 20) // 4:  # a quarter, copied again by the RUN
            text = f"line {line} of the text half, {line * 7919 % 100003}\n"
            f.write(text)
            n, line = n + len(text), line + 1
    with open(os.path.join(root, "Dockerfile"), "w") as f:
        f.write(BUILT_DOCKERFILE)


def _build(engine: engines.Engine, ctx: str, tag: str) -> None:
    env = {**engine.env(), "DOCKER_BUILDKIT": "0", "DOCKER_CONFIG": os.path.join(engine.root, "cli")}
    r = subprocess.run(["docker", "build", "-q", "--network", "none", "-t", tag, ctx], env=env,
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"{engine.name} build failed: {r.stdout[-1000:]} {r.stderr[-1000:]}")


def _pushed_bytes(registry: Registry) -> int:
    req = urllib.request.Request(f"http://{registry.host}/v2/bench/push/manifests/v1", headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return sum(d["size"] for d in json.load(resp)["layers"])


def one_built_run(kind: str, ctx: str, busybox: str) -> tuple[float, float, int]:
    """(first push, second push) seconds and the layer bytes the registry holds."""
    with engines.fresh(kind) as engine:
        engines.import_image(engine.sock, busybox, "bench-busybox")
        _build(engine, ctx, "bench/push:v1")
        registry = Registry()
        registry.start()
        try:
            first = _push(engine, registry)
            again = _push(engine, registry)
            return first, again, _pushed_bytes(registry)
        finally:
            registry.stop()


def built(runs: int, mb: int) -> None:
    work = tempfile.mkdtemp(prefix="berth-bench-push-built-")
    try:
        ctx = os.path.join(work, "ctx")
        make_context(ctx, mb)
        busybox = engines.busybox_tar(work)
        print(f"built image: busybox + COPY {mb} MB (half random, half text) + RUN cp of the text")
        res: dict[str, list[tuple[float, float, int]]] = {"docker": [], "berth": []}
        for _ in range(runs):
            for kind in ("docker", "berth"):
                r = one_built_run(kind, ctx, busybox)
                res[kind].append(r)
                print(f"  {kind:6} first {r[0]:6.2f} s  again {r[1]:5.2f} s  sent {r[2] / 1e6:6.1f} MB", flush=True)
        med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for k, v in res.items()}
        print(f"\nmedian of {runs}:")
        for kind in ("docker", "berth"):
            print(f"  {kind:6} first {med[kind][0]:6.2f} s  again {med[kind][1]:5.2f} s")
        print(f"  ratio berth/docker time: first {med['berth'][0] / med['docker'][0]:.2f}x, "
              f"again {med['berth'][1] / med['docker'][1]:.2f}x")
    finally:
        engines.remove_workdir(work)


def one_run(kind: str, archive: str) -> float:
    with engines.fresh(kind) as engine:
        _load(engine, archive)
        registry = Registry()
        registry.start()
        try:
            return _push(engine, registry)
        finally:
            registry.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--layer-mb", type=int, default=50)
    p.add_argument("--built", action="store_true", help="push an image each engine built instead")
    p.add_argument("--built-mb", type=int, default=100)
    args = p.parse_args()
    if args.built:
        built(args.runs, args.built_mb)
        return
    archive = os.path.join(tempfile.mkdtemp(prefix="berth-bench-push-"), "image.tar")
    try:
        size = make_archive(args.layers, args.layer_mb, archive)
        mb = size / 1e6
        print(f"image: {args.layers + 1} layers, {mb:.1f} MB gzip'd")
        times: dict[str, list[float]] = {"docker": [], "berth": []}
        for _ in range(args.runs):
            for kind in ("docker", "berth"):
                elapsed = one_run(kind, archive)
                times[kind].append(elapsed)
                print(f"  {kind:6} {elapsed:6.2f} s  {mb / elapsed:6.1f} MB/s", flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"\nmedian of {args.runs}:")
        for kind in ("docker", "berth"):
            print(f"  {kind:6} {med[kind]:6.2f} s  {mb / med[kind]:6.1f} MB/s")
        print(f"  ratio berth/docker throughput: {med['docker'] / med['berth']:.2f}x")
    finally:
        engines.shutil.rmtree(os.path.dirname(archive), ignore_errors=True)


if __name__ == "__main__":
    main()
