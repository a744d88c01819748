"""berth.runc.clone3: a child born in a cgroup2 directory (CLONE_INTO_CGROUP), on this kernel."""

from __future__ import annotations

import os
import uuid

import pytest

from berth.runc import clone3
from berth.runc.cgroups._proc import UNIFIED, cgroup_mounts


@pytest.fixture
def cgroup() -> str:
    mount = cgroup_mounts().get(UNIFIED)
    if mount is None:
        pytest.skip("no cgroup2 hierarchy mounted")
    path = os.path.join(mount.mountpoint, f"berth-clone3-{uuid.uuid4().hex[:8]}")
    os.mkdir(path)
    yield path
    if os.path.isdir(path):
        os.rmdir(path)


def _fork_reporting(fd: int) -> tuple[int | None, str]:
    """fork_into_cgroup; the child writes its /proc/self/cgroup's unified line and exits."""
    r, w = os.pipe()
    pid = clone3.fork_into_cgroup(fd)
    if pid == 0:  # pragma: no cover - the child
        with open("/proc/self/cgroup") as f:
            os.write(w, next(line for line in f if line.startswith("0::")).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        line = f.read()
    if pid is not None:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    return pid, line


def test_the_child_is_born_in_the_cgroup(cgroup: str) -> None:
    fd = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        pid, line = _fork_reporting(fd)
    finally:
        os.close(fd)
    mount = cgroup_mounts()[UNIFIED]
    assert pid is not None and pid > 0
    assert line == f"0::/{os.path.relpath(cgroup, mount.mountpoint)}\n"
    assert clone3._supported


def test_a_cgroup_that_is_gone_makes_no_child(cgroup: str) -> None:
    # the caller then forks and joins by pid, whose error says what is wrong
    fd = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.rmdir(cgroup)
        assert _fork_reporting(fd) == (None, "")
    finally:
        os.close(fd)
    assert clone3._supported  # a refusal of this cgroup, not of clone3: asked again next time
