"""The cgroup warm-up: a migration of this process into the cgroup it is already in."""

from __future__ import annotations

import os
import threading

import pytest

from berth.common import cgroupwarm


def _cgroups() -> str:
    with open("/proc/self/cgroup") as f:
        return f.read()


def test_the_file_is_our_own_cgroups_procs() -> None:
    path = cgroupwarm._own_procs_file()
    assert os.path.basename(path) == "cgroup.procs"
    with open(path) as f:
        assert str(os.getpid()) in f.read().split()


def test_announce_writes_in_a_thread_and_moves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    before = _cgroups()
    written = threading.Event()
    real_write = os.write

    def watching(fd: int, data: bytes) -> int:  # the worker's own write, seen from here
        if os.readlink(f"/proc/self/fd/{fd}").endswith("cgroup.procs"):
            assert threading.current_thread().name == "cgroup-warm"
            written.set()
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", watching)  # a spy: the real write still happens
    cgroupwarm.announce()
    assert written.wait(10)
    monkeypatch.undo()
    assert _cgroups() == before
    assert cgroupwarm._worker is not None and cgroupwarm._worker.is_alive()
