"""What an older berthd left attached at the cgroup2 root, taken away at start.

berthd of 2026-12-02 rewrote the host's connects to published TCP ports into connects
to the container (a socket load-balancer: cgroup connect4 and getpeername4 programs at
the cgroup2 root, named after berthd's nftables table, which stay attached while berthd
is down). It is gone: the rewritten connection's TIME_WAIT is no longer on loopback,
where the kernel reuses it (net.ipv4.tcp_tw_reuse=2), so a client that closes first
ran out of ports after ~14000 connections a minute and then waited a second per
connect; published ports are DNATed again, as Docker's `--userland-proxy=false` does
(nat.py). A berthd upgraded while containers ran would otherwise keep the old programs
rewriting connects by their old map."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re

from berth.common import bpf

CONNECT4, GETPEERNAME4 = 10, 29  # enum bpf_attach_type


def cgroup2_root() -> str | None:
    """Where the cgroup2 hierarchy's root is mounted (/sys/fs/cgroup/unified on a hybrid
    host, /sys/fs/cgroup on a v2 one), or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split(" ", 1)[0] == "cgroup2" and left.split()[3] == "/":
                return left.split()[4]
    return None


def prog_name(table: str) -> str:
    """The name the older berthd gave its programs (15 characters at most): the
    table's, or a part of it and a hash of the rest."""
    name = re.sub(r"[^A-Za-z0-9_.]", "_", table)
    if len(name) > 15:
        name = name[:10] + "_" + hashlib.sha1(table.encode()).hexdigest()[:4]
    return name


def attached(table: str) -> dict[int, list[int]]:
    """The ids of the programs named after `table` at the cgroup2 root, by attach type."""
    return _walk(table, detach=False)


def detach(table: str) -> dict[int, list[int]]:
    """Every program named after `table` at the cgroup2 root detached; their ids."""
    return _walk(table, detach=True)


def _walk(table: str, detach: bool) -> dict[int, list[int]]:
    root = cgroup2_root()
    if root is None:
        return {}
    found: dict[int, list[int]] = {}
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for kind in (CONNECT4, GETPEERNAME4):
            found[kind] = []
            try:
                ids = bpf.query(root_fd, kind)
            except OSError as e:
                if e.errno == errno.EINVAL:
                    continue  # a kernel without the hook (getpeername4: Linux < 5.8): nothing there
                raise
            for prog_id in ids:
                fd = bpf.prog_fd(prog_id)
                if fd < 0:
                    continue  # gone meanwhile
                try:
                    if bpf.prog_info(fd)[1] != prog_name(table):
                        continue
                    found[kind].append(prog_id)
                    if detach:
                        with contextlib.suppress(FileNotFoundError):  # detached meanwhile
                            bpf.detach(root_fd, fd, kind)
                finally:
                    os.close(fd)
    finally:
        os.close(root_fd)
    return found
