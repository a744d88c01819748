"""common/bpf.py against the real kernel: a refused program tells why, and a cgroup's
query never holds more programs than its buffer has room for."""

from __future__ import annotations

import errno
import os

import pytest

from berth.common import bpf
from berth.daemon.network import stale_bpf

_CGROUP_SOCK_ADDR, _CGROUP_DEVICE = 18, 15
_EXIT, _MOV_K = 0x95, 0xB7
_ALLOW = bpf.insn(_MOV_K, 0, imm=1) + bpf.insn(_EXIT)


def test_a_program_loads_and_a_refused_one_carries_the_verifiers_last_line() -> None:
    os.close(bpf.load(_CGROUP_DEVICE, _ALLOW))
    with pytest.raises(OSError) as e:
        bpf.load(_CGROUP_DEVICE, bpf.insn(_EXIT))  # r0 never set
    assert e.value.errno == errno.EACCES
    assert "R0" in e.value.log  # e.g. "R0 !read_ok": from the second load, the one with the log


def test_a_cgroup_holds_at_most_64_programs_at_a_hook_as_query_has_room_for() -> None:
    """BPF_CGROUP_MAX_PROGS: query asks for the cgroup's own programs (not the
    effective ones, which its ancestors' add to), so 64 ids are all there can be."""
    root = stale_bpf.cgroup2_root()
    if root is None:
        pytest.skip("no cgroup2 hierarchy")
    cg = os.path.join(root, f"berth-test-bpf-{os.getpid()}")
    os.mkdir(cg)
    fd = os.open(cg, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    progs: list[int] = []
    try:
        for _ in range(64):
            progs.append(bpf.load(_CGROUP_SOCK_ADDR, _ALLOW, "berth_test", stale_bpf.CONNECT4))
            bpf.attach(fd, progs[-1], stale_bpf.CONNECT4)
        progs.append(bpf.load(_CGROUP_SOCK_ADDR, _ALLOW, "berth_test", stale_bpf.CONNECT4))
        with pytest.raises(OSError) as e:
            bpf.attach(fd, progs[-1], stale_bpf.CONNECT4)
        assert e.value.errno == errno.E2BIG
        assert sorted(bpf.query(fd, stale_bpf.CONNECT4)) == sorted(bpf.prog_info(p)[0] for p in progs[:64])
    finally:
        for p in progs:
            try:
                bpf.detach(fd, p, stale_bpf.CONNECT4)
            except OSError:
                pass  # the 65th, never attached
            os.close(p)
        os.close(fd)
        os.rmdir(cg)
