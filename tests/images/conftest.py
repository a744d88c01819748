"""Pull tests: a real registry (Debian's docker-registry) on 127.0.0.1, images pushed
into it by skopeo from OCI layouts made here, and a private berthd pulling them."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests import dockerd as private_dockerd
from tests.daemon.conftest import Berthd, _cleanup
from tests.images import oci
from tests.images.registry import Proxy, Registry

BERTH = os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", ".venv", "bin", "berth")


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    reg = Registry()
    reg.start()
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def proxy(registry: Registry) -> Iterator[Proxy]:
    with Proxy(registry.host) as p:
        yield p


def new_engine(extra_args: list[str] | None = None) -> Berthd:
    suffix = uuid.uuid4().hex[:8]
    root = tempfile.mkdtemp(prefix="berthd-pull-")
    os.chmod(root, 0o755)
    d = Berthd(root=root, group=f"berth-test-{suffix}", cgroup_parent=f"berth-test-{suffix}",
               extra_args=extra_args or [])
    d.start()
    return d


@pytest.fixture(scope="session")
def engine() -> Iterator[Berthd]:
    d = new_engine()
    try:
        yield d
    finally:
        _cleanup(d)


@pytest.fixture
def api(engine: Berthd) -> Iterator[httpx.Client]:
    with engine.client(timeout=300) as c:
        yield c


@pytest.fixture(scope="session")
def dockerd() -> Iterator[private_dockerd.Dockerd]:
    """Debian's dockerd, the peer (a private one: tests/dockerd.py)."""
    if not shutil.which("dockerd"):
        pytest.skip("Debian's docker.io is not installed")
    d = private_dockerd.start()
    try:
        yield d
    finally:
        private_dockerd.stop(d)


@pytest.fixture
def layout() -> Iterator[oci.Layout]:
    d = tempfile.mkdtemp(prefix="berth-oci-")
    try:
        yield oci.Layout(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def unique_image(layout: oci.Layout, host: str, name: str, hows: tuple[str, ...] = ("gzip",),
                 message: str = "", arch: str = "amd64", extra: list[oci.Layer] | None = None) -> tuple[str, dict]:
    """A busybox image (plus one small random layer per compression in `hows`), pushed
    as HOST/NAME-<random>:v1; returns the reference and the manifest descriptor."""
    repo = f"{name}-{uuid.uuid4().hex[:8]}"
    message = message or f"hello from {repo}"
    layers = [oci.Layer(oci.tar_bytes(oci.busybox_entries(message)), "gzip")]
    for i, how in enumerate(hows):
        layers.append(oci.Layer(oci.tar_bytes([(f"data/{how}-{i}", "file", os.urandom(4096))]), how))
    layers += extra or []
    desc = layout.image(layers, ["cat", "/hello.txt"], arch=arch)
    layout.tag(desc, repo)
    oci.push(layout, repo, f"{host}/{repo}:v1")
    return f"{host}/{repo}:v1", desc


def berth(engine: Berthd, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([BERTH, "-H", engine.host, *args], capture_output=True, text=True, timeout=timeout)


def pull_lines(api: httpx.Client, ref: str, **params: str) -> tuple[int, list[dict]]:
    """POST /images/create as docker's CLI sends it; the status and the JSON messages."""
    import json

    name, _, tag = ref.rpartition(":") if "@" not in ref else (ref.split("@")[0], "", ref.split("@")[1])
    r = api.post("/images/create", params={"fromImage": name, "tag": tag, **params})
    if r.status_code != 200:
        return r.status_code, [r.json()]
    return 200, [json.loads(line) for line in r.text.splitlines() if line.strip()]
