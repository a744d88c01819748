"""berth's networks are IPv4 only (daemon/network/family.py): every way of asking for IPv6
is refused with a clear error and leaves nothing behind, and a port published without a
host address answers on IPv4 and says so (no [::] entry that nothing serves)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import httpx
import pytest
from tests.daemon.conftest import Berthd, run_container, wait_until
from tests.network.conftest import host_state

HTTPD = ("busybox", "httpd", "-f", "-p", "80", "-h", "/etc")


def _berth(d: Berthd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "berth.client.main", "-H", d.host, *args],
                          capture_output=True, text=True, timeout=60)


def _names(d: Berthd) -> list[str]:
    return d.docker("ps", "-a", "--format", "{{.Names}}", check=True).stdout.split()


@pytest.mark.parametrize("spec", ["[::1]:18310:80", "[::]:18311:80", "[fd00::1]:18312:80/udp"])
def test_an_ipv6_host_address_is_refused_by_both_clients(berthd: Berthd, spec: str) -> None:
    before = host_state(berthd)
    ip = spec[1:spec.index("]")]
    r = berthd.docker("run", "-d", "--name", "v6pub", "-p", spec, *HTTPD)
    assert r.returncode == 125, r.stderr
    assert f"berth publishes ports on IPv4 addresses only, not on {ip}" in r.stderr
    r = _berth(berthd, "run", "-d", "--name", "v6pub", "-p", spec, *HTTPD)
    assert r.returncode == 125, r.stderr
    assert f"berth publishes ports on IPv4 addresses only, not on {ip}" in r.stderr
    assert "v6pub" not in _names(berthd)  # refused at create: no container, no port, no rule
    assert host_state(berthd) == before


def test_a_host_address_that_is_no_address_gets_dockers_error(api: httpx.Client) -> None:
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"PortBindings": {"80/tcp": [
        {"HostIp": "127.1", "HostPort": "18313"}]}}}
    r = api.post("/containers/create", json=body)
    assert r.status_code == 400
    assert r.json()["message"] == "invalid IP address: 127.1"


def test_a_port_without_host_address_is_ipv4_and_says_so(berthd: Berthd) -> None:
    berthd.docker("run", "-d", "--name", "v4only", "-p", "18314:80", *HTTPD, check=True)
    try:
        with socket.create_connection(("127.0.0.1", 18314), timeout=10) as s:
            s.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
            assert s.recv(16).startswith(b"HTTP/1")
        # not on [::1]: and inspect, ps and port do not claim it (docker 20.10 would list :::18314)
        with socket.socket(socket.AF_INET6) as s, pytest.raises(OSError):
            s.settimeout(5)
            s.connect(("::1", 18314))
        ports = json.loads(berthd.docker("inspect", "v4only", check=True).stdout)[0]["NetworkSettings"]["Ports"]
        assert ports == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "18314"}]}
        assert berthd.docker("port", "v4only", check=True).stdout == "80/tcp -> 0.0.0.0:18314\n"
    finally:
        berthd.docker("rm", "-f", "v4only")


def test_ipv6_networks_are_refused(berthd: Berthd, api: httpx.Client) -> None:
    r = berthd.docker("network", "create", "--ipv6", "net6a")
    assert r.returncode == 1
    assert "IPv6 networks are not supported by berth (EnableIPv6)" in r.stderr
    r = berthd.docker("network", "create", "--subnet", "fd00:db8:1::/64", "net6b")
    assert r.returncode == 1
    assert "IPv6 networks are not supported by berth (EnableIPv6)" in r.stderr
    r = api.post("/networks/create", json={"Name": "net6c", "EnableIPv6": True,
                                           "IPAM": {"Config": [{"Subnet": "10.254.77.0/24"}]}})
    assert r.status_code == 400
    listed = berthd.docker("network", "ls", "--format", "{{.Name}}", check=True).stdout.split()
    assert not {"net6a", "net6b", "net6c"} & set(listed)
    # berth's own CLI has no --ipv6 flag to accept: docker's unknown-flag error
    r = _berth(berthd, "network", "create", "--ipv6", "net6d")
    assert r.returncode == 125 and "unknown flag: --ipv6" in r.stderr


@pytest.mark.parametrize("ipam, message", [
    ({"IPv6Address": "fd00::5"},
     "user specified IP address is supported only when connecting to networks with user configured subnets"),
    ({"LinkLocalIPs": ["169.254.10.10"]}, "link-local addresses (LinkLocalIPs, --link-local-ip) are not supported"),
])
def test_an_endpoint_asking_for_ipv6_or_link_local_is_refused(berthd: Berthd, api: httpx.Client,
                                                              ipam: dict, message: str) -> None:
    r = api.post("/networks/create", json={"Name": "v6ep"})
    assert r.status_code == 201, r.text
    cid = ""
    try:
        body = {"Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": {"NetworkMode": "v6ep"},
                "NetworkingConfig": {"EndpointsConfig": {"v6ep": {"IPAMConfig": ipam}}}}
        r = api.post("/containers/create", json=body, params={"name": "v6ep-c"})
        assert r.status_code == 400 and message in r.json()["message"], r.text
        assert "v6ep-c" not in _names(berthd)
        # connect: refused too, and the running container stays on its one network
        cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "60"]}, "v6ep-d")
        r = api.post("/networks/v6ep/connect", json={"Container": cid, "EndpointConfig": {"IPAMConfig": ipam}})
        assert r.status_code == 400 and message in r.json()["message"], r.text
        nets = api.get(f"/containers/{cid}/json").json()["NetworkSettings"]["Networks"]
        assert list(nets) == ["bridge"]
    finally:
        if cid:
            api.delete(f"/containers/{cid}", params={"force": 1})
        assert wait_until(lambda: api.delete("/networks/v6ep").status_code in (204, 404))
