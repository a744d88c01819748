"""The volume API and its clients: /volumes through httpx, the real docker CLI and the
docker SDK against berthd, berth's own `volume` commands; and the bad input of the
issue refused with dockerd's messages and codes, nothing created."""

from __future__ import annotations

import json
import os
import uuid

import docker
import httpx
import pytest

from tests.daemon.conftest import Berthd
from tests.volumes.conftest import run

pytestmark = pytest.mark.usefixtures("no_leaks")


def _name() -> str:
    return "v" + uuid.uuid4().hex[:10]


def test_create_inspect_list_filter_remove(api: httpx.Client, berthd: Berthd) -> None:
    a, b = _name(), _name()
    r = api.post("/volumes/create", json={"Name": a, "Labels": {"team": "db"}, "DriverOpts": {}})
    assert r.status_code == 201
    v = r.json()
    assert set(v) == {"CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"}
    assert (v["Name"], v["Driver"], v["Scope"], v["Labels"]) == (a, "local", "local", {"team": "db"})
    assert v["Mountpoint"] == os.path.join(berthd.data_root, "volumes", a, "_data")
    assert api.get(f"/volumes/{a}").json() == v
    assert api.post("/volumes/create", json={"Name": a}).json() == v  # the one there
    api.post("/volumes/create", json={"Name": b})
    cid = api.post("/containers/create", json={"Image": "busybox", "HostConfig": {"Binds": [f"{b}:/b"]}}).json()["Id"]
    try:
        def names(filters: dict) -> set[str]:
            got = api.get("/volumes", params={"filters": json.dumps(filters)}).json()["Volumes"]
            return {x["Name"] for x in got} & {a, b}

        assert names({}) == {a, b}
        assert names({"label": ["team=db"]}) == {a} and names({"label": ["team"]}) == {a}
        assert names({"dangling": ["true"]}) == {a} and names({"dangling": ["false"]}) == {b}
        assert names({"name": [b[3:]]}) == {b} and names({"driver": ["local"]}) == {a, b}
        r = api.get("/volumes", params={"filters": json.dumps({"colour": ["red"]})})
        assert r.status_code == 400 and r.json()["message"] == "invalid filter 'colour'"
        r = api.delete(f"/volumes/{b}")
        assert r.status_code == 409 and r.json()["message"] == f"remove {b}: volume is in use - [{cid}]"
    finally:
        api.delete(f"/containers/{cid}")
    assert api.delete(f"/volumes/{b}").status_code == 204
    assert api.delete(f"/volumes/{a}").status_code == 204
    r = api.get(f"/volumes/{a}")
    assert r.status_code == 404 and r.json()["message"] == f"get {a}: no such volume"
    assert api.delete(f"/volumes/{a}", params={"force": "1"}).status_code == 204


def test_in_use_survives_a_berthd_restart(api: httpx.Client, berthd: Berthd) -> None:
    vol = _name()
    cid = api.post("/containers/create", json={"Image": "busybox", "HostConfig": {"Binds": [f"{vol}:/v"]}}).json()["Id"]
    berthd.stop()
    berthd.start()
    with berthd.client() as c:
        assert c.delete(f"/volumes/{vol}").status_code == 409
        c.delete(f"/containers/{cid}")
        assert c.delete(f"/volumes/{vol}").status_code == 204


def test_prune_takes_anonymous_volumes_unless_all(api: httpx.Client) -> None:
    named = _name()
    api.post("/volumes/create", json={"Name": named})
    cid = api.post("/containers/create", json={"Image": "busybox", "Volumes": {"/a": {}}}).json()["Id"]
    anon = api.get(f"/containers/{cid}/json").json()["Mounts"][0]["Name"]
    assert anon not in (api.post("/volumes/prune").json()["VolumesDeleted"] or [])  # in use
    api.delete(f"/containers/{cid}")
    gone = api.post("/volumes/prune").json()["VolumesDeleted"] or []
    assert anon in gone and named not in gone
    gone = api.post("/volumes/prune", params={"filters": json.dumps({"all": ["true"]})}).json()["VolumesDeleted"]
    assert named in gone


def test_the_docker_cli(berthd: Berthd) -> None:
    vol = _name()
    assert berthd.docker("volume", "create", "--label", "k=v", vol, check=True).stdout == vol + "\n"
    ls = berthd.docker("volume", "ls", check=True).stdout.splitlines()
    assert ls[0].split() == ["DRIVER", "VOLUME", "NAME"] and f"local     {vol}" in ls
    done = berthd.docker("run", "--rm", "-v", f"{vol}:/d", "busybox", "sh", "-c", "echo cli > /d/f; cat /d/f")
    assert done.returncode == 0 and done.stdout == "cli\n", done.stderr
    assert berthd.docker("volume", "inspect", "-f", "{{.Labels.k}}", vol, check=True).stdout == "v\n"
    assert berthd.docker("volume", "rm", vol, check=True).stdout == vol + "\n"
    done = berthd.docker("volume", "rm", vol)
    assert done.returncode == 1 and f"get {vol}: no such volume" in done.stderr


def test_the_docker_sdk(berthd: Berthd) -> None:
    client = docker.DockerClient(base_url=berthd.host)
    vol = client.volumes.create(name=_name(), labels={"sdk": "1"})
    try:
        out = client.containers.run("busybox", ["sh", "-c", "echo sdk > /d/f; cat /d/f"], remove=True,
                                    volumes={vol.name: {"bind": "/d", "mode": "rw"}})
        assert out == b"sdk\n"
        assert vol.name in [v.name for v in client.volumes.list(filters={"label": "sdk=1"})]
        vol.reload()
        assert vol.attrs["Labels"] == {"sdk": "1"}
    finally:
        vol.remove()
        client.close()


def test_berths_volume_commands(berthd: Berthd) -> None:
    vol = _name()
    assert run(berthd, "volume", "create", "--label", "a=b", vol).stdout == vol + "\n"
    assert vol in run(berthd, "volume", "ls", "-q").stdout.split()
    assert run(berthd, "volume", "ls", "--filter", f"name={vol}", "--format", "{{.Name}} {{.Labels}}").stdout == \
        f"{vol} a=b\n"
    table = run(berthd, "volume", "ls", "--filter", f"name={vol}").stdout
    assert table == f"DRIVER    VOLUME NAME\nlocal     {vol}\n"
    assert json.loads(run(berthd, "volume", "inspect", vol).stdout)[0]["Name"] == vol
    assert run(berthd, "volume", "rm", vol).stdout == vol + "\n"


# (body, status, message): dockerd's words for each
_BAD = [
    ({"Binds": ["/tmp:rel"]}, 400, "invalid volume specification: '/tmp:rel': invalid mount config for type "
                                   "\"bind\": invalid mount path: 'rel' mount path must be absolute"),
    ({"Mounts": [{"Type": "bind", "Source": "/no/such/dir", "Target": "/x"}]}, 400,
     "invalid mount config for type \"bind\": bind source path does not exist: /no/such/dir"),
    ({"Mounts": [{"Type": "nfsish", "Target": "/x"}]}, 400, "invalid mount config for type \"nfsish\": "
                                                           "mount type unknown"),
    ({"Binds": ["/tmp:/x:rw,bogus"]}, 400, "invalid mode: rw,bogus"),
    ({"Binds": ["/tmp:/x", "/var:/x"]}, 400, "Duplicate mount point: /x"),
    ({"Binds": ["/tmp:/x"], "Tmpfs": {"/x": ""}}, 400, "Duplicate mount point: /x"),
    ({"Binds": ["bad$name:/x"]}, 400, "create bad$name: \"bad$name\" includes invalid characters for a local volume "
                                      "name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass "
                                      "a host directory, use absolute path"),
    ({"Mounts": [{"Type": "volume", "Target": "/x", "BindOptions": {"Propagation": "shared"}}]}, 400,
     "invalid mount config for type \"volume\": field BindOptions must not be specified"),
    ({"Tmpfs": {"/t": "size=1m,bogus"}}, 400, "invalid tmpfs option [\"bogus\"]"),
    ({"VolumesFrom": ["nosuchcontainer"]}, 404, "No such container: nosuchcontainer"),
    ({"Mounts": [{"Type": "volume", "Source": "x1", "Target": "/x",
                  "VolumeOptions": {"DriverConfig": {"Name": "flocker"}}}]}, 404,
     "create x1: error looking up volume plugin flocker: plugin \"flocker\" not found"),
]


@pytest.mark.parametrize("host,status,message", _BAD, ids=[m[:40] for _, _, m in _BAD])
def test_bad_mounts_are_refused_with_dockers_words_and_nothing_is_created(
        api: httpx.Client, host: dict, status: int, message: str) -> None:
    before_c = len(api.get("/containers/json", params={"all": 1}).json())
    before_v = {v["Name"] for v in api.get("/volumes").json()["Volumes"]}
    r = api.post("/containers/create", json={"Image": "busybox", "Volumes": {"/anon": {}}, "HostConfig": host})
    assert (r.status_code, r.json()["message"]) == (status, message)
    assert len(api.get("/containers/json", params={"all": 1}).json()) == before_c
    assert {v["Name"] for v in api.get("/volumes").json()["Volumes"]} == before_v


def test_bad_volume_create(api: httpx.Client) -> None:
    r = api.post("/volumes/create", json={"Name": "no/slash"})
    assert r.status_code == 400 and r.json()["message"].startswith('create no/slash: "no/slash" includes invalid')
    r = api.post("/volumes/create", json={"Name": "okname", "DriverOpts": {"colour": "red"}})
    assert (r.status_code, r.json()["message"]) == (400, 'create okname: invalid option: "colour"')
    r = api.post("/volumes/create", json={"Name": "okname", "DriverOpts": {"type": "tmpfs"}})
    assert (r.status_code, r.json()["message"]) == (400, 'create okname: missing required option: "device"')
    assert api.get("/volumes/okname").status_code == 404


def test_the_cli_refuses_a_bad_mount_flag(berthd: Berthd) -> None:
    done = run(berthd, "run", "--rm", "--mount", "type=bind,src=/tmp,dst=/x,colour=red", "busybox", "true",
               check=False)
    assert done.returncode == 125
    assert "invalid argument \"type=bind,src=/tmp,dst=/x,colour=red\" for \"--mount\" flag: unexpected key " \
           "'colour' in 'colour=red'" in done.stderr


def test_system_df_shows_volumes_with_their_usage(api: httpx.Client, berthd: Berthd) -> None:
    vol = _name()
    run(berthd, "run", "--rm", "-v", f"{vol}:/d", "busybox", "dd", "if=/dev/zero", "of=/d/f", "bs=64k", "count=16")
    cid = api.post("/containers/create", json={"Image": "busybox", "HostConfig": {"Binds": [f"{vol}:/d"]}}).json()["Id"]
    try:
        row = next(v for v in api.get("/system/df").json()["Volumes"] if v["Name"] == vol)
        assert row["UsageData"]["RefCount"] == 1 and row["UsageData"]["Size"] >= 1 << 20
        assert "UsageData" not in api.get(f"/volumes/{vol}").json()  # inspect has none, as docker's
    finally:
        api.delete(f"/containers/{cid}")
        api.delete(f"/volumes/{vol}")
