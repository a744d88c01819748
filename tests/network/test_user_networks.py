"""User-defined networks: the networks API and CLI, names through the embedded DNS,
isolation between networks, connect and disconnect; the swarm stubs."""

from __future__ import annotations

import json

import docker
from tests.daemon.conftest import Berthd, wait_until
from tests.network.conftest import host_state

HTTPD = ("busybox", "httpd", "-f", "-p", "80", "-h", "/etc")


def _fetch(d: Berthd, network: str, target: str) -> str:
    """busybox's wget crashes (Debian's static build); nc speaks HTTP well enough."""
    r = d.docker("run", "--rm", "--network", network, "busybox", "sh", "-c",
                 f"printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {target} 80 | tail -1")
    return r.stdout.strip()


def test_names_and_aliases_resolve_within_a_network_and_not_across(berthd: Berthd) -> None:
    before = host_state(berthd)
    assert berthd.docker("network", "create", "front", check=True).stdout.strip()
    berthd.docker("network", "create", "--subnet", _free_subnet(berthd), "back", check=True)
    try:
        cid = berthd.docker("run", "-d", "--name", "db", "--network", "front", "--network-alias", "database",
                            *HTTPD, check=True).stdout.strip()
        assert _fetch(berthd, "front", "db") == cid[:12]
        assert _fetch(berthd, "front", "database") == cid[:12]
        out = berthd.docker("run", "--rm", "--network", "front", "busybox", "sh", "-c",
                            "cat /etc/resolv.conf; ping -c1 -W3 db", check=True).stdout
        assert "nameserver 127.0.0.11\n" in out and "1 packets received" in out
        # another network: neither the name nor the address reaches db
        ip = json.loads(berthd.docker("inspect", "db", check=True).stdout)[0]["NetworkSettings"]["Networks"][
            "front"]["IPAddress"]
        assert _fetch(berthd, "back", "db") == ""
        assert _fetch(berthd, "back", ip) == ""
        # connected to both, a container reaches db by name
        berthd.docker("run", "-d", "--name", "both", "--network", "back", "busybox", "sleep", "100", check=True)
        berthd.docker("network", "connect", "front", "both", check=True)
        pid = json.loads(berthd.docker("inspect", "both", check=True).stdout)[0]["State"]["Pid"]
        with open(f"/proc/{pid}/net/dev") as f:
            assert {"eth0", "eth1"} <= {line.split(":")[0].strip() for line in f.readlines()[2:]}
        net = json.loads(berthd.docker("network", "inspect", "front", check=True).stdout)[0]
        assert {c["Name"] for c in net["Containers"].values()} == {"db", "both"}
        r = berthd.docker("network", "rm", "front")
        assert r.returncode == 1 and "has active endpoints" in r.stderr
        berthd.docker("network", "disconnect", "front", "both", check=True)
        with open(f"/proc/{pid}/net/dev") as f:
            assert "eth1" not in f.read()
    finally:
        berthd.docker("rm", "-f", "db", "both")
        berthd.docker("network", "rm", "front", "back")
    assert "front" not in berthd.docker("network", "ls", check=True).stdout
    assert wait_until(lambda: host_state(berthd) == before)


def _free_subnet(d: Berthd) -> str:
    import ipaddress

    return str(list(ipaddress.ip_network(d.net["pool"]).subnets(new_prefix=24))[5])


def test_networks_api_as_docker_answers(berthd: Berthd, api) -> None:  # noqa: ANN001
    nets = {n["Name"]: n for n in api.get("/networks").json()}
    assert {"bridge", "host", "none"} <= set(nets)
    assert nets["bridge"]["Driver"] == "bridge" and nets["none"]["Driver"] == "null"
    r = api.post("/networks/create", json={"Name": "apinet", "Labels": {"k": "v"}, "Internal": True,
                                            "IPAM": {"Config": [{"Subnet": _free_subnet(berthd)}]}})
    assert r.status_code == 201, r.text
    nid = r.json()["Id"]
    try:
        got = api.get(f"/networks/{nid[:10]}").json()
        assert got["Name"] == "apinet" and got["Internal"] is True and got["Labels"] == {"k": "v"}
        assert got["IPAM"]["Config"][0]["Gateway"].endswith(".1")
        assert api.post("/networks/create", json={"Name": "apinet"}).status_code == 409
        r = api.post("/networks/create", json={"Name": "v6", "EnableIPv6": True})
        assert r.status_code == 400 and "IPv6" in r.json()["message"]
        r = api.post("/networks/create", json={"Name": "overlap", "IPAM": {"Config": [
            {"Subnet": _free_subnet(berthd)}]}})
        assert r.status_code == 403 and "overlaps" in r.json()["message"]
        assert api.delete("/networks/bridge").status_code == 403
        assert api.get("/networks/no-such-net").json() == {"message": "network no-such-net not found"}
        only = api.get("/networks", params={"filters": json.dumps({"label": ["k=v"]})}).json()
        assert [n["Name"] for n in only] == ["apinet"]
        r = api.post("/containers/create", json={
            "Image": "busybox", "Cmd": ["sleep", "100"], "HostConfig": {"NetworkMode": "apinet"},
            "NetworkingConfig": {"EndpointsConfig": {"apinet": {
                "Aliases": ["a1"], "IPAMConfig": {"IPv4Address": got["IPAM"]["Config"][0]["Gateway"][:-1] + "7"}}}}})
        assert r.status_code == 201, r.text
        cid = r.json()["Id"]
        assert api.post(f"/containers/{cid}/start").status_code == 204
        shown = api.get(f"/containers/{cid}/json").json()
        ep = shown["NetworkSettings"]["Networks"]["apinet"]
        assert ep["IPAddress"].endswith(".7") and ep["Aliases"] == ["a1"]
        # dockerd's order, each once: name, aliases, short id, hostname (the short id here)
        assert ep["DNSNames"] == [shown["Name"][1:], "a1", cid[:12]]
        api.delete(f"/containers/{cid}", params={"force": 1})
        assert api.post("/networks/prune").json() == {"NetworksDeleted": ["apinet"]}
    finally:
        api.delete(f"/networks/{nid}")


def test_the_docker_sdk_carries_on_outside_a_swarm(berthd: Berthd, api) -> None:  # noqa: ANN001
    r = api.get("/swarm")
    assert r.status_code == 503 and r.json()["message"].startswith("This node is not a swarm manager.")
    assert api.post("/swarm/leave").status_code == 503
    client = docker.DockerClient(base_url=berthd.host, version="1.45")
    try:
        net = client.networks.create("sdknet")
        c = client.containers.run("busybox", ["sleep", "100"], detach=True, network="sdknet",
                                  ports={"80/tcp": None})
        c.reload()
        assert c.attrs["NetworkSettings"]["Networks"]["sdknet"]["IPAddress"]
        assert c.ports["80/tcp"][0]["HostPort"].isdigit()
        c.remove(force=True)
        net.remove()
    finally:
        client.close()


_TCP_QUERY = """
import socket, sys
from dnslib import DNSRecord
out = []
with socket.create_connection(("127.0.0.11", 53), timeout=5) as s:
    for name in sys.argv[1:]:  # several queries on one connection, as RFC 7766 allows
        q = DNSRecord.question(name).pack()
        s.sendall(len(q).to_bytes(2, "big") + q)
        size = int.from_bytes(s.recv(2), "big")
        data = b""
        while len(data) < size:
            data += s.recv(size - len(data))
        out.append(",".join(str(rr.rdata) for rr in DNSRecord.parse(data).rr) or "-")
print(" ".join(out))
"""


def test_the_embedded_dns_answers_over_tcp_too(berthd: Berthd) -> None:
    import subprocess
    import sys

    berthd.docker("network", "create", "tcpdns", check=True)
    try:
        berthd.docker("run", "-d", "--name", "tdb", "--network", "tcpdns", "--network-alias", "store",
                      "busybox", "sleep", "300", check=True)
        berthd.docker("run", "-d", "--name", "tclient", "--network", "tcpdns", "busybox", "sleep", "300", check=True)
        ip = json.loads(berthd.docker("inspect", "tdb", check=True).stdout)[0]["NetworkSettings"]["Networks"][
            "tcpdns"]["IPAddress"]
        pid = json.loads(berthd.docker("inspect", "tclient", check=True).stdout)[0]["State"]["Pid"]
        # a resolver inside the client's network namespace (the host's python, the container's network)
        r = subprocess.run(["nsenter", "-t", str(pid), "-n", sys.executable, "-c", _TCP_QUERY, "tdb", "store"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == [ip, ip]
    finally:
        berthd.docker("rm", "-f", "tdb", "tclient")
        berthd.docker("network", "rm", "tcpdns")
