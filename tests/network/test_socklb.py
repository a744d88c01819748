"""The socket load-balancer (daemon/network/socklb.py): the host's connects to a published
TCP port go straight to the container, with no NAT, and only those.

Which path a connection took shows in its local address: through DNAT it stays
127.0.0.1 (masquerade rewrites it only on the wire), rewritten at connect the kernel
picks the bridge's address, the route to the container's."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import uuid

from berth.daemon.network import socklb
from berth.daemon.network.nat import Forward
from tests.daemon.conftest import Berthd, wait_until
from tests.network.conftest import host_state

HTTPD = ("busybox", "httpd", "-f", "-p", "80", "-h", "/etc")


def _fetch(host: str, port: int) -> tuple[bytes, tuple[str, int], tuple[str, int]]:
    """(the body, getsockname, getpeername) of GET /hostname."""
    with socket.create_connection((host, port), timeout=10) as s:
        local, peer = s.getsockname(), s.getpeername()
        s.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
        data = bytearray()
        while chunk := s.recv(65536):
            data += chunk
    return bytes(data).split(b"\r\n\r\n", 1)[-1], local, peer


def _body_or_none(host: str, port: int) -> bytes | None:
    try:
        return _fetch(host, port)[0]
    except OSError:
        return None


def _refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=10).close()
    except ConnectionRefusedError:
        return True
    return False


def _lens(table: str) -> dict[str, int]:
    return {hook: len(ids) for hook, ids in socklb.attached(table).items()}


def _bpf_fds() -> int:
    """This process's fds of eBPF programs and maps."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("anon_inode:bpf-")
    return count


def _settings(berthd: Berthd, name: str) -> dict:
    return json.loads(berthd.docker("inspect", name, check=True).stdout)[0]["NetworkSettings"]


def test_the_hosts_connect_goes_to_the_container_and_getpeername_shows_what_it_asked(berthd: Berthd) -> None:
    before = host_state(berthd)
    cid = berthd.docker("run", "-d", "--name", "lb1", "-p", "18301:80", "-p", "18302:81/udp", *HTTPD,
                        check=True).stdout.strip()
    try:
        ns = _settings(berthd, "lb1")
        assert socklb.entries(berthd.net["table"]) == [f"0.0.0.0:18301 -> {ns['IPAddress']}:80"]  # no UDP
        assert {h: len(ids) for h, ids in socklb.attached(berthd.net["table"]).items()} == \
            {"connect4": 1, "getpeername4": 1}
        for host in ("127.0.0.1", "127.0.0.9"):  # all of 127.0.0.0/8, for a binding on 0.0.0.0
            body, local, peer = _fetch(host, 18301)
            assert body == cid[:12].encode() + b"\n"
            assert peer == (host, 18301)
            assert local[0] == ns["Gateway"]  # not NATed: the kernel connected to the container
    finally:
        berthd.docker("rm", "-f", "lb1")
    assert wait_until(lambda: host_state(berthd) == before), (host_state(berthd), before)
    assert socklb.attached(berthd.net["table"]) == {"connect4": [], "getpeername4": []}


def test_a_containers_own_connect_to_127_0_0_1_is_not_rewritten(berthd: Berthd) -> None:
    """The container serves its own second httpd on the host port's number: inside its
    namespace 127.0.0.1:18311 is that one, not the published port."""
    cid = berthd.docker("run", "-d", "--name", "lb2", "-p", "18311:80", "busybox", "sh", "-c",
                        "mkdir /inner && echo inner > /inner/hostname && httpd -p 18311 -h /inner && "
                        "exec httpd -f -p 80 -h /etc", check=True).stdout.strip()
    try:
        # the published port answers once the second httpd is up (the first starts before it)
        assert wait_until(lambda: _body_or_none("127.0.0.1", 18311) == cid[:12].encode() + b"\n")
        r = berthd.docker("exec", "lb2", "wget", "-q", "-O-", "http://127.0.0.1:18311/hostname", check=True)
        assert r.stdout == "inner\n"
    finally:
        berthd.docker("rm", "-f", "lb2")


def test_a_binding_on_127_0_0_1_is_rewritten_for_127_0_0_1_only(berthd: Berthd) -> None:
    cid = berthd.docker("run", "-d", "--name", "lb3", "-p", "127.0.0.1:18321:80", *HTTPD,
                        check=True).stdout.strip()
    try:
        ns = _settings(berthd, "lb3")
        assert socklb.entries(berthd.net["table"]) == [f"127.0.0.1:18321 -> {ns['IPAddress']}:80"]
        body, local, peer = _fetch("127.0.0.1", 18321)
        assert (body, local[0], peer) == (cid[:12].encode() + b"\n", ns["Gateway"], ("127.0.0.1", 18321))
        assert _refused("127.0.0.2", 18321)  # as Docker: the binding is 127.0.0.1's alone
    finally:
        berthd.docker("rm", "-f", "lb3")


def test_stop_and_rm_remove_the_entry_and_the_port_is_refused_then(berthd: Berthd) -> None:
    berthd.docker("run", "-d", "--name", "lb4", "-p", "18331:80", "-p", "18332:80", *HTTPD, check=True)
    try:
        cid_b = berthd.docker("run", "-d", "--name", "lb4b", "-p", "18333:80", *HTTPD, check=True).stdout.strip()
        assert len(socklb.entries(berthd.net["table"])) == 3
        berthd.docker("stop", "-t", "0", "lb4", check=True)
        ip_b = _settings(berthd, "lb4b")["IPAddress"]
        assert socklb.entries(berthd.net["table"]) == [f"0.0.0.0:18333 -> {ip_b}:80"]
        assert _refused("127.0.0.1", 18331) and _refused("127.0.0.1", 18332)
        assert _fetch("127.0.0.1", 18333)[0] == cid_b[:12].encode() + b"\n"  # the other one still answers
        berthd.docker("rm", "-f", "lb4b", check=True)
        assert socklb.entries(berthd.net["table"]) == []
        assert socklb.attached(berthd.net["table"]) == {"connect4": [], "getpeername4": []}
        assert _refused("127.0.0.1", 18333)
    finally:
        berthd.docker("rm", "-f", "lb4", "lb4b")


def test_connections_work_while_berthd_is_down_and_after_its_restart_with_one_program(berthd: Berthd) -> None:
    cid = berthd.docker("run", "-d", "--name", "lb5", "-p", "18341:80", *HTTPD, check=True).stdout.strip()
    try:
        ns = _settings(berthd, "lb5")
        first = socklb.attached(berthd.net["table"])
        with socket.create_connection(("127.0.0.1", 18341), timeout=10) as early:  # made before the crash
            berthd.kill9(containerd=False)
            body, local, peer = _fetch("127.0.0.1", 18341)  # a new connection, berthd down
            assert (body, local[0], peer) == (cid[:12].encode() + b"\n", ns["Gateway"], ("127.0.0.1", 18341))
            assert socklb.attached(berthd.net["table"]) == first
            berthd.start()
            again = socklb.attached(berthd.net["table"])
            assert {h: len(ids) for h, ids in again.items()} == {"connect4": 1, "getpeername4": 1}
            assert again["connect4"] != first["connect4"]  # a fresh program took the old one's place
            assert socklb.entries(berthd.net["table"]) == [f"0.0.0.0:18341 -> {ns['IPAddress']}:80"]
            body, local, peer = _fetch("127.0.0.1", 18341)
            assert (body, local[0], peer) == (cid[:12].encode() + b"\n", ns["Gateway"], ("127.0.0.1", 18341))
            # the origins map was taken over: still what the old connection asked for
            assert early.getpeername() == ("127.0.0.1", 18341)
    finally:
        berthd.docker("rm", "-f", "lb5")


def test_two_berthds_load_balancers_side_by_side_each_touch_only_their_own(berthd: Berthd) -> None:
    """Another berthd's (this process's, its own table): loaded, synced and detached
    beside the fixture's, neither walk of the cgroup2 root takes the other's programs
    as its own; the other holds one fd, its services map's, the kernel the rest."""
    cid = berthd.docker("run", "-d", "--name", "lb6", "-p", "18361:80", *HTTPD, check=True).stdout.strip()
    table, other_table = berthd.net["table"], f"berth_{uuid.uuid4().hex[:8]}"
    try:
        ns = _settings(berthd, "lb6")
        ours = socklb.attached(table), socklb.entries(table)
        other = socklb.SockLB(other_table)
        before = _bpf_fds()
        try:
            other.sync([Forward("tcp", "127.0.0.1", 18362, "unused", ns["IPAddress"], 80)])
            assert socklb.entries(other_table) == [f"127.0.0.1:18362 -> {ns['IPAddress']}:80"]
            assert _lens(other_table) == {"connect4": 1, "getpeername4": 1}
            assert (socklb.attached(table), socklb.entries(table)) == ours
            assert _bpf_fds() == before + 1
            for port in (18361, 18362):  # each one's rewrite, one after the other's
                body, local, peer = _fetch("127.0.0.1", port)
                assert (body, local[0], peer) == (cid[:12].encode() + b"\n", ns["Gateway"], ("127.0.0.1", port))
            berthd.docker("rm", "-f", "lb6", check=True)  # the fixture's last port: it detaches its own
            assert socklb.attached(table) == {"connect4": [], "getpeername4": []}
            assert _lens(other_table) == {"connect4": 1, "getpeername4": 1}
        finally:
            other.close(detach=True)
        assert socklb.attached(other_table) == {"connect4": [], "getpeername4": []}
        assert _bpf_fds() == before
    finally:
        berthd.docker("rm", "-f", "lb6")
        socklb.detach(other_table)


def test_the_first_sync_sweeps_a_previous_berthds_programs() -> None:
    """A berthd gone without a clean stop (close without detach) leaves its programs
    attached; the next one of its table, with no TCP port to publish, detaches them
    at its first sync."""
    table = f"berth_{uuid.uuid4().hex[:8]}"
    try:
        first = socklb.SockLB(table)
        first.sync([Forward("tcp", "127.0.0.1", 18371, "unused", "127.0.0.1", 18372)])
        first.close(detach=False)
        assert _lens(table) == {"connect4": 1, "getpeername4": 1}
        assert socklb.entries(table) == ["127.0.0.1:18371 -> 127.0.0.1:18372"]
        socklb.SockLB(table).sync([])
        assert socklb.attached(table) == {"connect4": [], "getpeername4": []}
    finally:
        socklb.detach(table)
