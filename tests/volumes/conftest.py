"""A private berthd for the volume tests (tests/daemon/conftest.py's engine, its own
roots), and the leak check: no mount under its roots outlives a test's containers."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.daemon.conftest import Berthd, _cleanup


@pytest.fixture(scope="session")
def berthd() -> Iterator[Berthd]:
    suffix = uuid.uuid4().hex[:8]
    root = tempfile.mkdtemp(prefix="berthd-vol-")
    os.chmod(root, 0o755)
    d = Berthd(root=root, group=f"berth-test-{suffix}", cgroup_parent=f"berth-test-{suffix}")
    try:
        d.start()
        yield d
    finally:
        _cleanup(d)


@pytest.fixture
def api(berthd: Berthd) -> Iterator[httpx.Client]:
    with berthd.client() as c:
        yield c


def mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p.startswith(path.rstrip("/") + "/")]


@pytest.fixture
def no_leaks(berthd: Berthd) -> Iterator[None]:
    """What the test leaves mounted under the engine's roots once its containers are gone
    (the containers still running from other tests keep their own rootfs mounts)."""
    before = set(mounts_under(berthd.root))
    yield
    assert set(mounts_under(berthd.root)) - before == set()
