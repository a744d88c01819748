"""Two private engines side by side for the attacker's-eye tests: a berthd (as in
tests/daemon) and Debian's dockerd, each with the same image imported: busybox plus
/bin/probe, a static helper (probe.c) that makes each escape attempt and prints the errno.
Everything is removed afterwards: containers, mounts, cgroups, processes (by pid)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import httpx
import pytest

from tests import dockerd as private_dockerd
from tests import rootfs
from tests.dockerd import Dockerd
from tests.daemon.conftest import Berthd, private_berthd

IMAGE = "sec-probe"
HERE = os.path.dirname(os.path.abspath(__file__))


def _image_tar(work: str) -> str:
    root = rootfs.make_rootfs(os.path.join(work, "rootfs"))
    os.makedirs(os.path.join(root, "mnt"), exist_ok=True)  # where the mount probe tries a tmpfs
    subprocess.run(["gcc", "-static", "-O1", "-o", os.path.join(root, "bin", "probe"),
                    os.path.join(HERE, "probe.c")], check=True)
    tar = os.path.join(work, "image.tar")
    subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
    return tar


def _import(client: httpx.Client, tar: str) -> None:
    rootfs.import_tar(client, tar, IMAGE)


@contextlib.contextmanager
def berthd_with_image(prefix: str, args: list[str], image_tar: str) -> Iterator[Berthd]:
    """A private berthd with the probe image imported as IMAGE."""
    with private_berthd(prefix, args) as d:
        with d.client() as c:
            _import(c, image_tar)
        yield d


@pytest.fixture(scope="session")
def work() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="berth-security-")
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def image_tar(work: str) -> str:
    return _image_tar(work)


@pytest.fixture(scope="session")
def berthd(image_tar: str) -> Iterator[Berthd]:
    with berthd_with_image("berthd-sec-", ["--log-level", "info"], image_tar) as d:
        yield d


@contextlib.contextmanager
def dockerd_with_image(args: list[str], image_tar: str) -> Iterator[Dockerd]:
    """A private Debian dockerd with the probe image imported as IMAGE."""
    d = private_dockerd.start(args)
    try:
        with d.client() as c:
            _import(c, image_tar)
        yield d
    finally:
        private_dockerd.stop(d)


@pytest.fixture(scope="session")
def dockerd(image_tar: str) -> Iterator[Dockerd]:
    with dockerd_with_image([], image_tar) as d:
        yield d


@pytest.fixture(scope="session")
def outside() -> Iterator[int]:
    """A host process no container may reach (its pid is what the probes try to ptrace)."""
    proc = subprocess.Popen(["sleep", "100000"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def host_pidns() -> str:
    return str(os.stat("/proc/self/ns/pid").st_ino)


def probe(env: dict[str, str], flags: list[str], outside_pid: int, only: str = "") -> dict[str, str]:
    """Run /bin/probe in a fresh container through the docker CLI; {probe name: result}."""
    args = ["docker", "run", "--rm", "--network", "none", *flags, IMAGE, "probe", host_pidns(), str(outside_pid)]
    r = subprocess.run(args + ([only] if only else []), env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)
    assert out, r.stdout + r.stderr
    return out
