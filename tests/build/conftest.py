"""Build tests: a private berthd of their own (its busybox is the built-in image made
from Debian's busybox-static), the berth CLI and the docker CLI pointed at it; the
peers: a private Debian dockerd, tests/images' docker-registry fixtures."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator

import httpx
import pytest

from tests import dockerd as private_dockerd
from tests.daemon.conftest import Berthd, private_berthd
from tests.images.conftest import registry  # noqa: F401 - fixture: Debian's docker-registry on 127.0.0.1
from tests.images.test_auth import locked  # noqa: F401 - fixture: the same with htpasswd (alice / s3cret)

BERTH = os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", ".venv", "bin", "berth")


@pytest.fixture(scope="session")
def engine() -> Iterator[Berthd]:
    with private_berthd("berthd-build-") as d:
        yield d


@pytest.fixture(scope="session")
def dockerd() -> Iterator[private_dockerd.Dockerd]:
    d = private_dockerd.start()
    try:
        yield d
    finally:
        private_dockerd.stop(d)


@pytest.fixture
def api(engine: Berthd) -> Iterator[httpx.Client]:
    with engine.client(timeout=300) as c:
        yield c


def berth(engine: Berthd, *args: str, cwd: str | None = None, input: str | None = None,
          timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([BERTH, "-H", engine.host, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, input=input)


def write_tree(root: str, files: dict[str, str | bytes]) -> str:
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
    return root


@pytest.fixture
def ctx() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="berth-build-ctx-")
    try:
        yield d
    finally:
        subprocess.run(["rm", "-rf", d], check=False)
