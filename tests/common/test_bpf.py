"""common/bpf.py against the real kernel: a refused program tells why."""

from __future__ import annotations

import errno
import os

import pytest

from berth.common import bpf

_CGROUP_DEVICE = 15
_EXIT, _MOV_K = 0x95, 0xB7
_ALLOW = bpf.insn(_MOV_K, 0, imm=1) + bpf.insn(_EXIT)


def test_a_program_loads_and_a_refused_one_carries_the_verifiers_last_line() -> None:
    os.close(bpf.load(_CGROUP_DEVICE, _ALLOW))
    with pytest.raises(OSError) as e:
        bpf.load(_CGROUP_DEVICE, bpf.insn(_EXIT))  # r0 never set
    assert e.value.errno == errno.EACCES
    assert "R0" in e.value.log  # e.g. "R0 !read_ok": from the second load, the one with the log

