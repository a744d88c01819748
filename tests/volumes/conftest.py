"""A private berthd for the volume tests (tests/daemon/conftest.py's engine, its own
roots), and the leak check: no mount under its roots outlives a test's containers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import httpx
import pytest

from tests import rootfs
from tests.daemon.conftest import Berthd, private_berthd

BERTH = os.path.join(os.path.dirname(sys.executable), "berth")


@pytest.fixture(scope="session")
def berthd() -> Iterator[Berthd]:
    with private_berthd("berthd-vol-") as d:
        yield d


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


IMAGE = "vol-probe"


def _image_tar(work: str) -> str:
    """busybox plus /seed (files owned by 1000, mode 0750) for copy-up, a VOLUME on
    /declared, and a symlink /evil -> /etc for the attacks (the host's /etc, were it
    resolved outside the rootfs)."""
    root = rootfs.make_rootfs(os.path.join(work, "rootfs"))
    seed = os.path.join(root, "seed")
    os.makedirs(os.path.join(seed, "sub"))
    for rel, text in (("a.txt", "from the image\n"), ("sub/b.txt", "nested\n")):
        with open(os.path.join(seed, rel), "w") as f:
            f.write(text)
    for dirpath, dirs, files in os.walk(seed):
        for name in [dirpath] + [os.path.join(dirpath, n) for n in dirs + files]:
            os.lchown(name, 1000, 1000)
    os.chmod(seed, 0o750)
    os.makedirs(os.path.join(root, "declared"))
    with open(os.path.join(root, "declared", "d.txt"), "w") as f:
        f.write("declared\n")
    os.symlink("/etc", os.path.join(root, "evil"))
    tar = os.path.join(work, "image.tar")
    subprocess.run(["tar", "--numeric-owner", "-C", root, "-cf", tar, "."], check=True)
    return tar


@pytest.fixture(scope="session")
def image(berthd: Berthd) -> str:
    work = tempfile.mkdtemp(prefix="berth-vol-image-")
    try:
        tar = _image_tar(work)
        with berthd.client() as c:
            rootfs.import_tar(c, tar, IMAGE, "VOLUME /declared")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return IMAGE


def run(berthd: Berthd, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The berth CLI against the private engine."""
    done = subprocess.run([BERTH, "-H", berthd.host, *args], capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done
