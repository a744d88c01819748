"""Published TCP ports reached from the host at the container's own speed: a socket
load-balancer (what Cilium's kube-proxy replacement does), beside nat.py's DNAT.

A connect() from the host's network namespace to a published port (127.0.0.0/8 for a
binding on 0.0.0.0, else the binding's exact address) is rewritten by an eBPF program
at the cgroup2 root (BPF_CGROUP_INET4_CONNECT) into a connect to the container's
address and port: a plain host -> container connection, with no NAT of each packet
both ways. getpeername() still shows what the client asked for (a second program,
BPF_CGROUP_INET4_GETPEERNAME, and an LRU map of the original addresses by socket
cookie). Everything else stays on DNAT: other namespaces (an outside host, hairpin from
containers), UDP, the host's other addresses, and hosts without cgroup2.

The programs stay attached when berthd's fds close (BPF_F_ALLOW_MULTI attach, not a
link), so connections keep working, new ones included, while berthd is down. A starting
berthd loads fresh programs and a fresh services map, fills it and swaps them for its
previous ones in one step each (BPF_F_REPLACE), finding them by name, which comes from
its nftables table (several berthds at once each find only their own); the origins
map is taken over, so getpeername of a connection made before the restart still
answers. The programs are attached only while berthd publishes a TCP port: with none
left (the last container stopped, a clean stop) they are detached."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from berth.common import bpf

from . import socklb_prog
from .nat import Forward

log = logging.getLogger("berthd.network")

_PROG_TYPE_CGROUP_SOCK_ADDR = 18
CONNECT4, GETPEERNAME4 = 10, 29  # enum bpf_attach_type
_MAP_HASH, _MAP_LRU_HASH = 1, 9
_NO_PREALLOC = 1
_SO_NETNS_COOKIE = 71
_SERVICES, _ORIGINS = 4096, 65536  # entries: published ports; connections remembered for getpeername


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
    """The programs' and maps' name (15 characters at most): the table's, or a part of it
    and a hash of the rest."""
    name = re.sub(r"[^A-Za-z0-9_.]", "_", table)
    if len(name) > 15:
        name = name[:10] + "_" + hashlib.sha1(table.encode()).hexdigest()[:4]
    return name


def endpoint(ip: str, port: int) -> bytes:
    """(ip, port) as struct bpf_sock_addr holds them: both in network order, the port
    a u32 of the machine's byte order whose value is the network-order u16 (its first
    two bytes on a little-endian machine, its last two on a big-endian one, s390x)."""
    return socket.inet_aton(ip) + struct.pack("=I", socket.htons(port))


def _unpack(raw: bytes) -> str:
    return f"{socket.inet_ntoa(raw[:4])}:{socket.ntohs(struct.unpack('=I', raw[4:8])[0])}"


def _netns_cookie() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
        return struct.unpack("<Q", s.getsockopt(socket.SOL_SOCKET, _SO_NETNS_COOKIE, 8))[0]


@contextlib.contextmanager
def _root() -> Iterator[int | None]:
    """An fd of the cgroup2 root for the block, or None without a cgroup2 hierarchy."""
    root = cgroup2_root()
    if root is None:
        yield None
        return
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def _owned(root_fd: int, attach_type: int, name: str) -> Iterator[list[int]]:
    """The fds of the programs at `attach_type` named `name`, closed on leaving the block
    (an error halfway through the walk included)."""
    fds: list[int] = []
    try:
        for prog_id in bpf.query(root_fd, attach_type):
            fd = bpf.prog_fd(prog_id)
            if fd >= 0:
                fds.append(fd)
                if bpf.prog_info(fd)[1] != name:
                    os.close(fds.pop())
        yield fds
    finally:
        for fd in fds:
            os.close(fd)


def _map_of(prog_fd: int, map_type: int) -> int:
    """An fd of the program's map of `map_type` (8-byte keys and values; the caller
    closes it), or -1. A map whose info cannot be read is not taken."""
    for map_id in bpf.prog_info(prog_fd)[2]:
        mfd = bpf.map_fd(map_id)
        if mfd < 0:
            continue
        try:
            found = bpf.map_info(mfd)[:3] == (map_type, 8, 8)
        except OSError:
            found = False
        if found:
            return mfd
        os.close(mfd)
    return -1


def attached(table: str) -> dict[str, list[int]]:
    """The ids of the table's programs at the cgroup2 root, by hook (tests' leak checks)."""
    with _root() as root_fd:
        if root_fd is None:
            return {}
        out = {}
        for hook, kind in (("connect4", CONNECT4), ("getpeername4", GETPEERNAME4)):
            with _owned(root_fd, kind, prog_name(table)) as fds:
                out[hook] = sorted(bpf.prog_info(fd)[0] for fd in fds)
        return out


def entries(table: str) -> list[str]:
    """What the table's connect4 program rewrites, "host ip:port -> container ip:port"."""
    out: list[str] = []
    with _root() as root_fd:
        if root_fd is None:
            return []
        with _owned(root_fd, CONNECT4, prog_name(table)) as fds:
            for fd in fds:
                mfd = _map_of(fd, _MAP_HASH)
                if mfd >= 0:
                    try:
                        out += [f"{_unpack(k)} -> {_unpack(v)}" for k, v in bpf.map_items(mfd, 8, 8).items()]
                    finally:
                        os.close(mfd)
    return sorted(out)


def detach(table: str) -> None:
    """Every program of the table's at the cgroup2 root detached (tests, bench/engines)."""
    _detach(prog_name(table))


def _detach(name: str) -> None:
    with _root() as root_fd:
        if root_fd is None:
            return
        for kind in (CONNECT4, GETPEERNAME4):
            with _owned(root_fd, kind, name) as fds:
                for fd in fds:
                    with contextlib.suppress(FileNotFoundError):  # detached meanwhile
                        bpf.detach(root_fd, fd, kind)


@dataclass
class _Loaded:
    """This berthd's services map (its fd, what it holds): all a sync changes. The
    programs and the origins map need no fd of ours: the kernel keeps attached
    programs and the maps they use."""
    services: int
    entries: dict[bytes, bytes] = field(default_factory=dict)


class SockLB:
    """berthd's side: sync() after every render of the nftables table (the same
    forwards), close() at a clean stop. Blocking calls: the network worker's thread."""

    def __init__(self, table: str) -> None:
        self.name = prog_name(table)
        self.table = table
        self._loaded: _Loaded | None = None
        self._disabled = False
        self._swept = False  # a previous berthd's programs looked for (at the first sync)
        # read now, in berthd's main thread: the worker thread visits containers' namespaces
        try:
            self._cookie = _netns_cookie()
        except OSError as e:  # before Linux 5.14 (SO_NETNS_COOKIE)
            log.info("no network namespace cookie (%s): published ports through DNAT alone", e)
            self._cookie, self._disabled = 0, True

    def sync(self, forwards: list[Forward]) -> None:
        wanted = {endpoint(f.host_ip, f.host_port): endpoint(f.container_ip, f.container_port)
                  for f in forwards if f.proto == "tcp"}
        try:
            if not wanted:
                if self._loaded is not None or not self._swept:
                    self.close(detach=True)
            elif self._loaded is None:
                if not self._disabled:
                    self._load(wanted)
            else:
                self._fill(self._loaded, wanted)
        except OSError as e:
            log.warning("socket load-balancer for published ports off (DNAT alone): %s", e)
            self._disabled = True
            with contextlib.suppress(OSError):
                self.close(detach=True)

    def close(self, detach: bool) -> None:
        """Our fd dropped, and with `detach` our programs too (a clean stop with nothing
        running, no TCP port published); without, they stay attached for the
        containers that run on."""
        if self._loaded is not None:
            os.close(self._loaded.services)
            self._loaded = None
        if detach:
            _detach(self.name)
            self._swept = True

    def _load(self, wanted: dict[bytes, bytes]) -> None:
        with _root() as root_fd, contextlib.ExitStack() as fds:  # fds: closed at the end
            if root_fd is None:
                self._disabled = True
                log.info("no cgroup2 hierarchy mounted: published ports through DNAT alone")
                return
            old = {kind: fds.enter_context(_owned(root_fd, kind, self.name)) for kind in (CONNECT4, GETPEERNAME4)}
            origins = self._origins_of(old[GETPEERNAME4])
            fds.callback(os.close, origins)
            loaded = _Loaded(bpf.map_create(_MAP_HASH, 8, 8, _SERVICES, self.name, _NO_PREALLOC))
            try:
                self._fill(loaded, wanted)
                for kind, insns in ((CONNECT4, socklb_prog.connect4(self._cookie, loaded.services, origins)),
                                    (GETPEERNAME4, socklb_prog.getpeername4(origins))):
                    prog = self._prog(insns, kind)
                    fds.callback(os.close, prog)
                    _install(root_fd, prog, kind, old[kind])
            except BaseException:
                os.close(loaded.services)
                raise
        self._loaded, self._swept = loaded, True

    def _origins_of(self, old_getpeername: list[int]) -> int:
        """The previous berthd's origins map if it has one, else a new one."""
        for fd in old_getpeername:
            mfd = _map_of(fd, _MAP_LRU_HASH)
            if mfd >= 0:
                return mfd
        return bpf.map_create(_MAP_LRU_HASH, 8, 8, _ORIGINS, self.name)

    def _prog(self, insns: bytes, kind: int) -> int:
        try:
            return bpf.load(_PROG_TYPE_CGROUP_SOCK_ADDR, insns, self.name, kind)
        except OSError as e:
            detail = getattr(e, "log", "")
            raise OSError(e.errno, f"loading {self.name}: {e.strerror}" + (f" ({detail})" if detail else "")) \
                from e

    @staticmethod
    def _fill(loaded: _Loaded, wanted: dict[bytes, bytes]) -> None:
        for key in [k for k in loaded.entries if k not in wanted]:
            with contextlib.suppress(FileNotFoundError):
                bpf.map_delete(loaded.services, key)
            del loaded.entries[key]
        for key, value in wanted.items():
            if loaded.entries.get(key) != value:
                bpf.map_update(loaded.services, key, value)
                loaded.entries[key] = value


def _install(root_fd: int, prog: int, kind: int, old: list[int]) -> None:
    """`prog` in place of our previous program at `kind` in one step, or attached anew;
    any other previous one of ours detached."""
    if old:
        bpf.attach(root_fd, prog, kind, bpf.F_ALLOW_MULTI | bpf.F_REPLACE, old[0])
    else:
        bpf.attach(root_fd, prog, kind, bpf.F_ALLOW_MULTI)
    for fd in old[1:]:
        with contextlib.suppress(FileNotFoundError):
            bpf.detach(root_fd, fd, kind)
