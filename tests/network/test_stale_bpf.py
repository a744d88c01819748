"""An upgrade from the berthd that had a socket load-balancer (daemon/network/stale_bpf.py):
the programs it left attached at the cgroup2 root, named after its nftables table, are
detached when the new berthd starts; another engine's are left alone."""

from __future__ import annotations

import os
import uuid

import pytest

from berth.common import bpf
from berth.daemon.network import stale_bpf
from tests.daemon.conftest import private_berthd

_CGROUP_SOCK_ADDR = 18
_ALLOW = bpf.insn(0xB7, 0, imm=1) + bpf.insn(0x95)  # r0 = 1 (allow the connect); exit


def _attach(root_fd: int, name: str, kind: int) -> int:
    prog = bpf.load(_CGROUP_SOCK_ADDR, _ALLOW, name, kind)
    bpf.attach(root_fd, prog, kind)
    return prog


def test_an_older_berthds_programs_are_detached_at_start() -> None:
    root = stale_bpf.cgroup2_root()
    if root is None:
        pytest.skip("no cgroup2 hierarchy")
    other = f"berth_other_{uuid.uuid4().hex[:6]}"
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    progs: list[int] = []
    with private_berthd() as berthd:
        table = berthd.net["table"]
        try:
            berthd.stop()  # the upgrade: the old berthd gone, its programs still attached
            for name in (stale_bpf.prog_name(table), stale_bpf.prog_name(other)):
                progs += [_attach(root_fd, name, kind) for kind in (stale_bpf.CONNECT4, stale_bpf.GETPEERNAME4)]
            assert all(len(ids) == 1 for ids in stale_bpf.attached(table).values())
            berthd.start()
            assert stale_bpf.attached(table) == {stale_bpf.CONNECT4: [], stale_bpf.GETPEERNAME4: []}
            assert all(len(ids) == 1 for ids in stale_bpf.attached(other).values())
            assert "detached an older berthd's socket load-balancer programs" in berthd.log_tail()
        finally:
            stale_bpf.detach(other)
            stale_bpf.detach(table)
            for p in progs:
                os.close(p)
            os.close(root_fd)
