"""Published ports: DNAT in the kernel, from 127.0.0.1, from a host address and from a
test-made namespace acting as another machine; TCP and UDP; docker's errors; traffic
that keeps flowing while berthd and berth-containerd are killed and restarted."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from tests.daemon.conftest import Berthd, wait_until
from tests.network.conftest import Outside, host_state

HTTPD = ("busybox", "httpd", "-f", "-p", "80", "-h", "/etc")


def _get(host: str, port: int, path: str = "/hostname", timeout: float = 10) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        data = bytearray()
        while chunk := s.recv(1 << 20):
            data += chunk
    return bytes(data)


def _body(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[1]


def test_one_httpd_published_on_three_host_ports(berthd: Berthd, outside: Outside) -> None:
    before = host_state(berthd)
    cid = berthd.docker("run", "-d", "--name", "web3", "-p", "18181:80", "-p", "18182:80", "-p",
                        "127.0.0.1:18183:80", *HTTPD, check=True).stdout.strip()
    try:
        for port in (18181, 18182, 18183):
            assert _body(_get("127.0.0.1", port)) == cid[:12].encode() + b"\n"
        # another machine, as far as the host can tell: through the veth the test made
        r = outside.run("curl", "-s", "-m", "10", f"http://{outside.host_ip}:18181/hostname")
        assert r.stdout == cid[:12] + "\n", r.stderr
        # bound to 127.0.0.1 only: the other machine does not get it
        r = outside.run("curl", "-s", "-m", "3", f"http://{outside.host_ip}:18183/hostname")
        assert r.returncode != 0
        out = berthd.docker("port", "web3", check=True).stdout
        assert out == "80/tcp -> 0.0.0.0:18181\n80/tcp -> 0.0.0.0:18182\n80/tcp -> 127.0.0.1:18183\n"
        ports = json.loads(berthd.docker("inspect", "web3", check=True).stdout)[0]["NetworkSettings"]["Ports"]
        assert ports == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "18181"},
                                    {"HostIp": "0.0.0.0", "HostPort": "18182"},
                                    {"HostIp": "127.0.0.1", "HostPort": "18183"}]}
        assert "0.0.0.0:18181->80/tcp" in berthd.docker("ps", check=True).stdout
        # the port is held: anybody else binding it is refused
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", 18181))
                raise AssertionError("a published port could be bound by another program")
            except OSError:
                pass
        r = berthd.docker("run", "-d", "--name", "web3b", "-p", "18182:80", *HTTPD)
        assert r.returncode == 125
        assert "Bind for 0.0.0.0:18182 failed: port is already allocated" in r.stderr
    finally:
        berthd.docker("rm", "-f", "web3", "web3b")
    assert wait_until(lambda: host_state(berthd) == before)
    with socket.socket() as s:  # released: the port is free again
        s.bind(("0.0.0.0", 18181))


def test_a_free_host_port_for_p_container_and_P(berthd: Berthd) -> None:
    berthd.docker("run", "-d", "--name", "anyport", "-p", "80", "--expose", "81", "-P", *HTTPD, check=True)
    try:
        out = berthd.docker("port", "anyport", "80/tcp", check=True).stdout.split()
        host_port = int(out[0].rsplit(":", 1)[1])
        assert 1024 < host_port < 65536
        assert b"\r\n\r\n" in _get("127.0.0.1", host_port)
        all_ports = berthd.docker("port", "anyport", check=True).stdout
        assert "81/tcp -> 0.0.0.0:" in all_ports
        ps = ["ps", "-a", "--filter", "name=^/anyport$", "--format", "{{.Ports}}"]
        assert f"0.0.0.0:{host_port}->80/tcp" in berthd.docker(*ps, check=True).stdout
        # stopped, it lists no ports, as dockerd (its port map is made at start, dropped at stop)
        berthd.docker("stop", "-t", "0", "anyport", check=True)
        assert berthd.docker(*ps, check=True).stdout == "\n"
    finally:
        berthd.docker("rm", "-f", "anyport")


_IP_LOCAL_PORT_RANGE = 51  # linux/in.h, Linux 6.3: this socket's own ephemeral range


def _echo_from(port: int, local_port: int | None = None) -> bytes:
    """One line through the echo at 127.0.0.1:`port`, the client closing first (the
    echo's cat ends on the client's EOF): the TIME_WAIT is the client's. With
    `local_port`, the kernel picks the source port as for any connect, from a range of
    that one port: a port left in TIME_WAIT is taken again only where the kernel may
    reuse it."""
    with socket.socket() as s:
        s.settimeout(10)
        if local_port is not None:
            s.setsockopt(socket.IPPROTO_IP, _IP_LOCAL_PORT_RANGE, struct.pack("=I", local_port << 16 | local_port))
        s.connect(("127.0.0.1", port))
        s.sendall(b"hi\n")
        return s.recv(16)


def _echoes(port: int) -> bool:
    try:
        return _echo_from(port) == b"hi\n"
    except OSError:
        return False


def test_a_client_that_closes_first_gets_its_port_again(berthd: Berthd) -> None:
    """A host client that closes first leaves its TIME_WAIT on 127.0.0.1, which the kernel
    lets a new connect reuse after a second (net.ipv4.tcp_tw_reuse=2: loopback only), as
    with Docker. Were the connection made to the container's own address (a socket
    load-balancer's rewrite), the port would stay taken for a minute: clients that make
    many short connections (load tests, pools) run out of ports at ~14000 a minute."""
    with socket.socket() as s:
        try:
            s.setsockopt(socket.IPPROTO_IP, _IP_LOCAL_PORT_RANGE, 0)
        except OSError:
            pytest.skip("no IP_LOCAL_PORT_RANGE (Linux < 6.3)")
    berthd.docker("run", "-d", "--name", "echo", "-p", "18196:80", "busybox", "nc", "-ll", "-p", "80", "-e", "cat",
                  check=True)
    try:
        assert wait_until(lambda: _echoes(18196))
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(p) for p in f.read().split())
        local_port = next(p for p in range(high - 1, low, -1) if _free(p))
        assert _echo_from(18196, local_port) == b"hi\n"
        time.sleep(1.2)  # the kernel reuses a TIME_WAIT a second old (tcp_tw_reuse_delay)
        assert _echo_from(18196, local_port) == b"hi\n"
    finally:
        berthd.docker("rm", "-f", "echo")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def test_udp_is_published_too(berthd: Berthd) -> None:
    """busybox has no UDP server: a UDP echo of the test's own runs in the container's
    network namespace (nsenter), behind the container's published port."""
    berthd.docker("run", "-d", "--name", "udp", "-p", "18190:5000/udp", "busybox", "sleep", "100", check=True)
    pid = json.loads(berthd.docker("inspect", "udp", check=True).stdout)[0]["State"]["Pid"]
    echo = subprocess.Popen(
        ["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c",
         "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 5000)); "
         "print('ready', flush=True); d, a = s.recvfrom(100); s.sendto(b'echo:' + d, a)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert echo.stdout is not None and echo.stdout.readline() == "ready\n"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(10)
            s.sendto(b"hello-udp", ("127.0.0.1", 18190))
            assert s.recvfrom(100)[0] == b"echo:hello-udp"
        assert berthd.docker("port", "udp", check=True).stdout == "5000/udp -> 0.0.0.0:18190\n"
    finally:
        echo.kill()
        echo.wait()
        berthd.docker("rm", "-f", "udp")


def test_a_download_keeps_flowing_while_berthd_and_containerd_restart(berthd: Berthd) -> None:
    # 64 MiB, read slowly until berthd and berth-containerd are back
    berthd.docker("run", "-d", "--name", "bigfile", "-p", "18195:80", "busybox", "sh", "-c",
                  "dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null; exec httpd -f -p 80 -h /", check=True)
    try:
        assert wait_until(lambda: _try_len("/big") == 64 << 20, timeout=30)
        got: list[int] = []
        started, restarted = threading.Event(), threading.Event()

        def slow_download() -> None:
            with socket.create_connection(("127.0.0.1", 18195), timeout=30) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
                s.sendall(b"GET /big HTTP/1.0\r\n\r\n")
                data = bytearray()
                started.set()
                while chunk := s.recv(65536):
                    data += chunk
                    if not restarted.is_set():
                        restarted.wait(0.01)  # slow until the engine is back: the restart is mid-download
                got.append(len(_body(bytes(data))))

        t = threading.Thread(target=slow_download)
        t.start()
        assert started.wait(10)
        berthd.kill9(containerd=True)
        berthd.start()
        assert got == []  # still downloading
        restarted.set()
        t.join(120)
        assert got == [64 << 20]
        assert _try_len("/big") == 64 << 20  # and new connections after the restart
    finally:
        berthd.docker("rm", "-f", "bigfile")


def _try_len(path: str) -> int:
    try:
        return len(_body(_get("127.0.0.1", 18195, path, timeout=30)))
    except OSError:
        return -1
