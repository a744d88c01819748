"""The default bridge network: a namespace, a veth and an address per container, its /etc
files, NetworkSettings as Docker shows them, and nothing left after rm."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess

from tests.daemon.conftest import Berthd, _pids_mentioning, wait_until
from tests.network.conftest import host_state


def _inspect(d: Berthd, name: str) -> dict:
    return json.loads(d.docker("inspect", name, check=True).stdout)[0]


def test_a_container_has_eth0_with_an_address_of_the_bridge(berthd: Berthd) -> None:
    pool = ipaddress.ip_network(berthd.net["pool"])
    before = host_state(berthd)
    out = berthd.docker("run", "--rm", "busybox", "sh", "-c", "ip -o -4 addr; ip route; cat /etc/resolv.conf",
                        check=True).stdout
    addrs = [line.split()[3] for line in out.splitlines() if " inet " in line]
    assert addrs[0] == "127.0.0.1/8"
    eth0 = [line for line in out.splitlines() if ": eth0 " in line and " inet " in line]
    assert len(eth0) == 1
    ip = ipaddress.ip_interface(eth0[0].split()[3])
    assert ip.ip in pool and ip.network.prefixlen == 24
    gateway = next(ip.network.hosts())
    assert f"default via {gateway} dev eth0" in out
    assert "nameserver 127." not in out
    assert wait_until(lambda: host_state(berthd) == before)
    assert subprocess.run(["ip", "-br", "addr", "show", berthd.net["bridge"]], capture_output=True,
                          text=True).stdout.split()[2] == f"{gateway}/24"


def test_inspect_shows_network_settings_as_docker_does(berthd: Berthd) -> None:
    berthd.docker("run", "-d", "--name", "ns-show", "--hostname", "shown", "--add-host", "extra.example:10.9.9.9",
                  "busybox", "sleep", "100", check=True)
    try:
        c = _inspect(berthd, "ns-show")
        ns = c["NetworkSettings"]
        assert c["HostConfig"]["NetworkMode"] == "bridge"
        ep = ns["Networks"]["bridge"]
        assert ns["IPAddress"] == ep["IPAddress"] and ns["Gateway"] == ep["Gateway"] != ""
        assert ns["MacAddress"] == ep["MacAddress"] == "02:42:" + ":".join(
            f"{b:02x}" for b in ipaddress.ip_address(ep["IPAddress"]).packed)
        assert ns["IPPrefixLen"] == 24 and len(ep["EndpointID"]) == 64 and ns["SandboxKey"]
        nets = json.loads(berthd.docker("network", "inspect", "bridge", check=True).stdout)[0]
        assert ep["NetworkID"] == nets["Id"]
        assert nets["Containers"][c["Id"]]["IPv4Address"] == ep["IPAddress"] + "/24"
        assert nets["Options"]["com.docker.network.bridge.name"] == berthd.net["bridge"]
        with open(c["HostsPath"]) as f:
            hosts = f.read()
        assert f"{ep['IPAddress']}\tshown\n" in hosts and "10.9.9.9\textra.example\n" in hosts
        with open(c["HostnamePath"]) as f:
            assert f.read() == "shown\n"
        fmt = berthd.docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "ns-show", check=True).stdout
        assert fmt.strip() == ep["IPAddress"]
    finally:
        berthd.docker("rm", "-f", "ns-show")
    berthd.docker("create", "--name", "ns-stopped", "busybox", "true", check=True)
    try:
        ns = _inspect(berthd, "ns-stopped")["NetworkSettings"]
        assert ns["IPAddress"] == "" and ns["Networks"]["bridge"]["IPAddress"] == ""
        assert ns["Networks"]["bridge"]["NetworkID"] != ""
    finally:
        berthd.docker("rm", "ns-stopped")


def test_network_modes_none_host_and_container(berthd: Berthd) -> None:
    out = berthd.docker("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link", check=True).stdout
    assert [line.split()[1] for line in out.splitlines()] == ["lo:"] and "UP" in out
    out = berthd.docker("run", "--rm", "--network", "host", "busybox", "cat", "/proc/net/dev", check=True).stdout
    theirs = {line.split(":")[0].strip() for line in out.splitlines()[2:]}
    assert berthd.net["bridge"] in theirs  # the host's own links, this engine's bridge among them
    berthd.docker("run", "-d", "--name", "ns-owner", "busybox", "sleep", "100", check=True)
    try:
        ip = _inspect(berthd, "ns-owner")["NetworkSettings"]["IPAddress"]
        out = berthd.docker("run", "--rm", "--network", "container:ns-owner", "busybox", "ip", "-o", "-4",
                            "addr", check=True).stdout
        assert f"inet {ip}/24" in out
        r = berthd.docker("run", "--rm", "--network", "container:ns-owner", "--hostname", "x", "busybox", "true")
        assert r.returncode == 125 and "conflicting options: hostname and the network mode" in r.stderr
    finally:
        berthd.docker("rm", "-f", "ns-owner")
    # (the docker CLI takes any 404 from create for a missing image and pulls first)
    with berthd.client() as c:
        r = c.post("/containers/create", json={"Image": "busybox", "HostConfig": {"NetworkMode": "no-such-net"}})
    assert r.status_code == 404 and r.json()["message"] == "network no-such-net not found"


def test_dns_and_ip_flags(berthd: Berthd) -> None:
    out = berthd.docker("run", "--rm", "--dns", "10.1.2.3", "--dns-search", "example.test", "busybox", "cat",
                        "/etc/resolv.conf", check=True).stdout
    assert "nameserver 10.1.2.3\n" in out and "search example.test\n" in out
    r = berthd.docker("run", "--rm", "--ip", "10.1.1.1", "busybox", "true")
    assert r.returncode == 125 and "user specified IP address is supported on user defined networks only" in r.stderr


def test_addresses_are_never_handed_out_twice(berthd: Berthd) -> None:
    """Concurrent runs, then a kill -9 of berthd: every live container keeps its own address."""
    procs = [subprocess.Popen(["docker", "run", "-d", "--name", f"ipam-{i}", "busybox", "sleep", "100"],
                              env=berthd.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(6)]
    for p in procs:
        assert p.wait(60) == 0, p.stderr.read() if p.stderr else ""
    try:
        ips = {_inspect(berthd, f"ipam-{i}")["NetworkSettings"]["IPAddress"] for i in range(6)}
        assert len(ips) == 6 and "" not in ips
        berthd.kill9(containerd=False)
        berthd.start()
        berthd.docker("run", "-d", "--name", "ipam-6", "busybox", "sleep", "100", check=True)
        new = _inspect(berthd, "ipam-6")["NetworkSettings"]["IPAddress"]
        assert new not in ips
        assert {_inspect(berthd, f"ipam-{i}")["NetworkSettings"]["IPAddress"] for i in range(6)} == ips
    finally:
        berthd.docker("rm", "-f", *[f"ipam-{i}" for i in range(7)])


def test_kill_9_of_every_berth_process_then_restart_cleans_up(berthd: Berthd) -> None:
    before = host_state(berthd)
    berthd.docker("run", "-d", "--name", "stale", "-p", "18731:80", "busybox", "httpd", "-f", "-p", "80",
                  check=True)
    c = _inspect(berthd, "stale")
    assert host_state(berthd) != before
    shim_and_init = [c["State"]["Pid"]]
    berthd.kill9(containerd=True)
    # the container and its shim die too: nothing of berth survives
    for pid in [*_pids_mentioning(berthd.root), *shim_and_init]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    berthd.start()
    try:
        assert wait_until(lambda: berthd.docker("ps", "-q").stdout.strip() == "")
        after = host_state(berthd)
        assert after["links"] == before["links"] and after["netns"] == before["netns"]
        assert after["dnat"] == before["dnat"]
    finally:
        berthd.docker("rm", "-f", "stale")
