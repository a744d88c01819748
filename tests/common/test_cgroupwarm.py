"""The cgroup warm-up: a migration of this process into the cgroup it is already in."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from berth.common import cgroupwarm


def test_the_file_is_our_own_cgroups_procs() -> None:
    path = cgroupwarm._own_procs_file()
    assert os.path.basename(path) == "cgroup.procs"
    with open(path) as f:
        assert str(os.getpid()) in f.read().split()


class _WatchedOs:
    """os as cgroupwarm sees it, its writes recorded (and made): no other module's."""

    def __init__(self) -> None:
        self.written = threading.Event()
        self.writes: list[tuple[str, str, bytes]] = []  # (thread, file, data)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: bytes) -> int:
        self.writes.append((threading.current_thread().name, os.readlink(f"/proc/self/fd/{fd}"), bytes(data)))
        self.written.set()
        return os.write(fd, data)


def test_announce_writes_our_pid_to_our_cgroup_in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    watched = _WatchedOs()
    monkeypatch.setattr(cgroupwarm, "os", watched)
    cgroupwarm.announce()
    assert watched.written.wait(10)
    assert watched.writes[0] == ("cgroup-warm", cgroupwarm._own_procs_file(), str(os.getpid()).encode())
    assert cgroupwarm._worker is not None and cgroupwarm._worker.is_alive()
