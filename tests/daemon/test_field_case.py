"""Request bodies' field names are matched without regard to case, as dockerd's Go
decoder matches them; the fields are kept under Docker's spelling, unknown ones as sent."""

from __future__ import annotations

import os

import docker
import httpx
import pytest
from tests.daemon.conftest import Berthd, run_container
from tests.daemon.test_api import demux, wait_exit


@pytest.fixture
def sdk(berthd: Berthd) -> docker.DockerClient:
    client = docker.DockerClient(base_url=berthd.host, version="1.45")
    yield client
    client.close()


def _raw(api: httpx.Client, body: str) -> httpx.Response:
    """A body as written, with keys Python's dicts could not hold (two spellings of one)."""
    return api.post("/containers/create", content=body.encode(), headers={"Content-Type": "application/json"})


def test_odd_casing_configures_the_container(api: httpx.Client) -> None:
    cid = run_container(api, {"image": "busybox", "CMD": ["sh", "-c", "echo $GREETING; hostname"],
                              "env": ["GREETING=hi"], "HOSTNAME": "oddcase", "workingdir": "/tmp"})
    assert wait_exit(api, cid) == 0
    out = b"".join(p for _, p in demux(api.get(f"/containers/{cid}/logs", params={"stdout": 1}).content))
    assert out == b"hi\noddcase\n"
    config = api.get(f"/containers/{cid}/json").json()["Config"]
    assert config["Image"] == "busybox" and config["Cmd"][0] == "sh" and config["WorkingDir"] == "/tmp"
    assert not {"image", "CMD", "env", "HOSTNAME", "workingdir"} & set(config)
    assert api.delete(f"/containers/{cid}").status_code == 204


def test_odd_casing_reaches_the_host_config(api: httpx.Client) -> None:
    r = api.post("/containers/create", json={"image": "busybox", "cmd": ["true"],
                                             "hostconfig": {"autoremove": True}})
    assert r.status_code == 201, r.text
    cid = r.json()["Id"]
    assert api.get(f"/containers/{cid}/json").json()["HostConfig"]["AutoRemove"] is True
    waiter = api.build_request("POST", f"/containers/{cid}/wait", params={"condition": "removed"})
    with httpx.Client(transport=api._transport, base_url="http://berth", timeout=60) as other:
        response = other.send(waiter, stream=True)
        assert api.post(f"/containers/{cid}/start").status_code == 204
        response.read()
    assert response.json()["StatusCode"] == 0
    assert api.get(f"/containers/{cid}/json").status_code == 404


def test_odd_casing_sets_the_cgroup_limits(api: httpx.Client, berthd: Berthd) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "1000"],
                              "HOSTCONFIG": {"MEMORY": 16 << 20, "pidsLimit": 50}})
    base = "/sys/fs/cgroup"
    if os.path.exists(f"{base}/cgroup.controllers"):
        memory = f"{base}/{berthd.cgroup_parent}/{cid}/memory.max"
        pids = f"{base}/{berthd.cgroup_parent}/{cid}/pids.max"
    else:
        memory = f"{base}/memory/{berthd.cgroup_parent}/{cid}/memory.limit_in_bytes"
        pids = f"{base}/pids/{berthd.cgroup_parent}/{cid}/pids.max"
    with open(memory) as f:
        assert int(f.read()) == 16 << 20
    with open(pids) as f:
        assert f.read().strip() == "50"
    host = api.get(f"/containers/{cid}/json").json()["HostConfig"]
    assert host["Memory"] == 16 << 20 and host["PidsLimit"] == 50
    assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204


def test_the_later_of_two_spellings_wins_as_in_go(api: httpx.Client) -> None:
    r = _raw(api, '{"Image": "no-such-image", "image": "busybox", "Cmd": ["true"]}')
    assert r.status_code == 201, r.text
    cid = r.json()["Id"]
    assert api.get(f"/containers/{cid}/json").json()["Config"]["Image"] == "busybox"
    assert api.delete(f"/containers/{cid}").status_code == 204
    r = _raw(api, '{"image": "busybox", "Image": "no-such-image"}')
    assert r.status_code == 404 and r.json()["message"] == "No such image: no-such-image:latest"


def test_unknown_fields_and_user_keys_are_kept_as_sent(api: httpx.Client) -> None:
    body = {"Image": "busybox", "Cmd": ["true"], "berthExtra": {"someKey": 1},
            "labels": {"Mixed.Case": "v"}, "exposedports": {"80/tcp": {}},
            "hostconfig": {"someFutureField": 2, "portbindings": {"80/tcp": [{"hostport": "8080"}]},
                           "restartpolicy": {"name": "no", "maximumretrycount": 0},
                           "logconfig": {"type": "json-file", "config": {"max-size": "1m"}}}}
    r = api.post("/containers/create", json=body)
    assert r.status_code == 201, r.text
    got = api.get(f"/containers/{r.json()['Id']}/json").json()
    config, host = got["Config"], got["HostConfig"]
    assert config["berthExtra"] == {"someKey": 1}
    assert config["Labels"] == {"Mixed.Case": "v"} and config["ExposedPorts"] == {"80/tcp": {}}
    assert host["someFutureField"] == 2
    assert host["PortBindings"] == {"80/tcp": [{"HostPort": "8080"}]}
    assert host["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
    assert api.delete(f"/containers/{got['Id']}").status_code == 204


def test_a_wrong_type_under_any_spelling_is_a_400_naming_the_field(api: httpx.Client) -> None:
    for body, field in (({"image": "busybox", "tty": "yes"}, "Tty"),
                        ({"image": "busybox", "hostconfig": {"memory": "lots"}}, "HostConfig.Memory")):
        r = api.post("/containers/create", json=body)
        assert r.status_code == 400, r.text
        assert field in r.json()["message"], r.text


def test_the_docker_sdks_spellings(sdk: docker.DockerClient) -> None:
    c = sdk.containers.create("busybox", ["true"], cpu_rt_period=1000, cpu_rt_runtime=500,
                              labels={"sdk": "yes"})
    try:
        sent = sdk.api.inspect_container(c.id)["HostConfig"]
        assert sent["CpuRealtimePeriod"] == 1000 and sent["CpuRealtimeRuntime"] == 500
        assert "CPURealtimePeriod" not in sent and "CPURealtimeRuntime" not in sent
    finally:
        c.remove()


def test_the_docker_cli_still_creates_as_before(berthd: Berthd) -> None:
    out = berthd.docker("run", "--rm", "--memory", "32m", "-e", "X=y", "busybox", "sh", "-c", "echo $X",
                        check=True).stdout
    assert out == "y\n"
