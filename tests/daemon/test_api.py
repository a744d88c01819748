"""The Docker Engine API over the unix socket, as any HTTP client sees it."""

from __future__ import annotations

import concurrent.futures
import io
import json
import struct
import tarfile
import time

import httpx
from tests.daemon.conftest import Berthd, run_container, wait_until


def demux(body: bytes) -> list[tuple[int, bytes]]:
    """docker's multiplexed frames: [stream, 0, 0, 0, size (big-endian u32)] + payload."""
    out = []
    while body:
        stream, size = struct.unpack(">BxxxI", body[:8])
        out.append((stream, body[8:8 + size]))
        body = body[8 + size:]
    return out


def wait_exit(api: httpx.Client, cid: str) -> int:
    r = api.post(f"/containers/{cid}/wait")
    assert r.status_code == 200, r.text
    return r.json()["StatusCode"]


def test_ping_answers_with_docker_headers(api: httpx.Client) -> None:
    for r in (api.get("/_ping"), api.head("/_ping"), api.get("/v1.41/_ping")):
        assert r.status_code == 200
        assert r.headers["API-Version"] == "1.45"
        assert r.headers["OSType"] == "linux"
        assert r.headers["Docker-Experimental"] == "false"
    assert api.get("/_ping").text == "OK"


def test_version_and_info(api: httpx.Client, berthd: Berthd) -> None:
    v = api.get("/v1.45/version").json()
    assert v["ApiVersion"] == "1.45" and v["MinAPIVersion"] == "1.24" and v["Os"] == "linux"
    info = api.get("/info").json()
    assert info["DockerRootDir"] == berthd.data_root
    assert info["Images"] >= 2 and info["OSType"] == "linux"
    assert "runc" in info["Runtimes"]


def test_api_version_out_of_range_is_a_400(api: httpx.Client) -> None:
    r = api.get("/v1.99/version")
    assert r.status_code == 400
    assert "too new" in r.json()["message"]
    r = api.get("/v1.12/version")
    assert r.status_code == 400 and "too old" in r.json()["message"]


def test_openapi_document_is_served(api: httpx.Client) -> None:
    doc = api.get("/openapi.json").json()
    assert "/containers/create" in doc["paths"]
    assert api.get("/docs").status_code == 200


def test_builtin_images_are_listed_and_inspectable(api: httpx.Client) -> None:
    tags = {t for i in api.get("/images/json").json() for t in i["RepoTags"]}
    assert {"busybox:latest", "hello-world:latest"} <= tags
    img = api.get("/images/busybox/json").json()
    assert img["Id"].startswith("sha256:")
    assert img["Config"]["Cmd"] == ["sh"]
    assert any(e.startswith("PATH=") for e in img["Config"]["Env"])
    assert api.get(f"/images/{img['Id']}/json").json()["Id"] == img["Id"]


def test_unknown_image_is_a_404_with_dockers_wording(api: httpx.Client) -> None:
    r = api.get("/images/nosuchimage/json")
    assert r.status_code == 404
    assert r.json() == {"message": "No such image: nosuchimage:latest"}
    r = api.post("/containers/create", json={"Image": "nosuchimage"})
    assert r.status_code == 404
    assert r.json() == {"message": "No such image: nosuchimage:latest"}


def test_import_a_tar_with_changes_and_run_it(api: httpx.Client) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"#!/bin/busybox sh\necho imported $GREETING\n"
        info = tarfile.TarInfo("greet")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
        with open("/bin/busybox", "rb") as f:
            bb = f.read()
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(bb), 0o755
        tar.addfile(info, io.BytesIO(bb))
    r = api.post("/images/create", params=[("fromSrc", "-"), ("repo", "imported"), ("tag", "v1"),
                                           ("changes", 'CMD ["/greet"]'), ("changes", "ENV GREETING=hi")],
                 content=buf.getvalue())
    assert r.status_code == 200, r.text
    image_id = json.loads(r.text.splitlines()[-1])["status"]
    assert image_id.startswith("sha256:")
    img = api.get("/images/imported:v1/json").json()
    assert img["Id"] == image_id and img["Config"]["Cmd"] == ["/greet"]
    cid = run_container(api, {"Image": "imported:v1"})
    assert wait_exit(api, cid) == 0
    out = api.get(f"/containers/{cid}/logs", params={"stdout": 1})
    assert demux(out.content) == [(1, b"imported hi\n")]
    assert api.delete(f"/containers/{cid}").status_code == 204


def test_container_lifecycle_through_the_api(api: httpx.Client) -> None:
    r = api.post("/containers/create", params={"name": "lifecycle"},
                  json={"Image": "busybox", "Cmd": ["sh", "-c", "echo out; echo err >&2; exec sleep 1000"],
                        "Env": ["FOO=bar"]})
    assert r.status_code == 201
    cid = r.json()["Id"]
    created = api.get("/containers/lifecycle/json").json()
    assert created["State"]["Status"] == "created" and created["Name"] == "/lifecycle"
    assert created["Path"] == "sh" and created["Config"]["Env"][-1] == "FOO=bar"

    assert api.post(f"/containers/{cid[:10]}/start").status_code == 204
    assert api.post(f"/containers/{cid}/start").status_code == 304
    running = api.get(f"/containers/{cid}/json").json()["State"]
    assert running["Running"] and running["Pid"] > 0 and running["StartedAt"] != "0001-01-01T00:00:00Z"
    listed = api.get("/containers/json").json()
    assert [c["Names"] for c in listed if c["Id"] == cid] == [["/lifecycle"]]
    assert listed[0]["Status"].startswith("Up")

    frames = wait_until(lambda: demux(api.get(f"/containers/{cid}/logs",
                                              params={"stdout": 1, "stderr": 1}).content))
    assert sorted(frames) == [(1, b"out\n"), (2, b"err\n")]
    r = api.get(f"/containers/{cid}/logs", params={"stdout": 1, "stderr": 1})
    assert r.headers["content-type"] == "application/vnd.docker.multiplexed-stream"
    only_err = demux(api.get(f"/containers/{cid}/logs", params={"stderr": 1}).content)
    assert only_err == [(2, b"err\n")]
    stamped = demux(api.get(f"/containers/{cid}/logs", params={"stdout": 1, "timestamps": 1}).content)
    assert stamped[0][1].endswith(b"Z out\n")

    top = api.get(f"/containers/{cid}/top").json()
    assert any("sleep 1000" in " ".join(p) for p in top["Processes"])

    r = api.delete(f"/containers/{cid}")
    assert r.status_code == 409
    assert "container is running" in r.json()["message"]
    assert api.post(f"/containers/{cid}/stop", params={"t": 1}).status_code == 204
    stopped = api.get(f"/containers/{cid}/json").json()["State"]
    assert stopped["Status"] == "exited" and stopped["ExitCode"] == 137 and not stopped["Running"]
    assert api.post(f"/containers/{cid}/stop").status_code == 304
    assert api.get("/containers/json", params={"filters": json.dumps({"name": ["lifecycle"]})}).json() == []
    exited = api.get("/containers/json", params={"all": 1, "filters": json.dumps({"status": ["exited"]})}).json()
    assert cid in [c["Id"] for c in exited]
    assert api.delete("/containers/lifecycle").status_code == 204
    assert api.get(f"/containers/{cid}/json").status_code == 404


def test_kill_wait_and_exit_codes(api: httpx.Client) -> None:
    # PID 1 gets only the signals it handles, as in docker: sh traps TERM here.
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", "trap 'exit 99' TERM; sleep 1000 & wait"]})
    assert api.post(f"/containers/{cid}/kill", params={"signal": "SIGTERM"}).status_code == 204
    assert wait_exit(api, cid) == 99
    api.delete(f"/containers/{cid}")
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "1000"]})
    assert api.post(f"/containers/{cid}/kill").status_code == 204
    assert wait_exit(api, cid) == 137
    r = api.post(f"/containers/{cid}/kill")
    assert r.status_code == 409 and "is not running" in r.json()["message"]
    api.delete(f"/containers/{cid}")
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", "exit 42"]})
    assert wait_exit(api, cid) == 42
    assert api.get(f"/containers/{cid}/json").json()["State"]["ExitCode"] == 42
    api.delete(f"/containers/{cid}")


def test_auto_remove_removes_the_container_when_it_exits(api: httpx.Client) -> None:
    r = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["true"],
                                             "HostConfig": {"AutoRemove": True}})
    cid = r.json()["Id"]
    waiter = api.build_request("POST", f"/containers/{cid}/wait", params={"condition": "removed"})
    with httpx.Client(transport=api._transport, base_url="http://berth", timeout=60) as other:
        response = other.send(waiter, stream=True)
        assert api.post(f"/containers/{cid}/start").status_code == 204
        response.read()
    assert response.json()["StatusCode"] == 0
    assert api.get(f"/containers/{cid}/json").status_code == 404


def test_missing_command_fails_start_and_leaves_it_created(api: httpx.Client) -> None:
    r = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["nosuchcommand"]})
    cid = r.json()["Id"]
    r = api.post(f"/containers/{cid}/start")
    assert r.status_code == 400
    assert "executable file not found" in r.json()["message"]
    state = api.get(f"/containers/{cid}/json").json()["State"]
    assert state["Status"] == "created" and state["ExitCode"] == 127 and "nosuchcommand" in state["Error"]
    assert api.delete(f"/containers/{cid}").status_code == 204


def test_the_container_gets_dockers_defaults(api: httpx.Client) -> None:
    script = ("hostname; cat /etc/hostname; grep -c localhost /etc/hosts; echo $PATH; echo $HOSTNAME; "
              "grep CapEff /proc/1/status; ls /sys/firmware | wc -l; "
              "touch /proc/sysrq-trigger 2>/dev/null && echo rw || echo ro; ip -o link | wc -l; echo pid $$")
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", script]})
    assert wait_exit(api, cid) == 0
    lines = [p.decode().strip() for _, p in demux(api.get(f"/containers/{cid}/logs", params={"stdout": 1}).content)]
    short = cid[:12]
    assert lines[0] == short and lines[1] == short
    assert int(lines[2]) >= 1
    assert lines[3] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert lines[4] == short
    assert lines[5].split()[1] == "00000000a80425fb"  # docker's default capability set
    assert lines[6] == "0"  # masked
    assert lines[7] == "ro"
    assert lines[8] == "2"  # lo and eth0: the default bridge network, as docker's
    assert lines[9] == "pid 1"
    api.delete(f"/containers/{cid}")


def test_entrypoint_cmd_user_and_workdir_merge_like_docker(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Entrypoint": ["sh", "-c"],
                              "Cmd": ["id -u; id -g; pwd"], "User": "1000:1001", "WorkingDir": "/tmp"})
    assert wait_exit(api, cid) == 0
    out = b"".join(p for _, p in demux(api.get(f"/containers/{cid}/logs", params={"stdout": 1}).content))
    assert out == b"1000\n1001\n/tmp\n"
    inspect = api.get(f"/containers/{cid}/json").json()
    assert inspect["Path"] == "sh" and inspect["Args"] == ["-c", "id -u; id -g; pwd"]
    api.delete(f"/containers/{cid}")


def test_a_user_name_is_looked_up_in_the_images_own_passwd_and_group(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", "id -u; id -g; id -G"], "User": "nobody"})
    assert wait_exit(api, cid) == 0
    out = b"".join(p for _, p in demux(api.get(f"/containers/{cid}/logs", params={"stdout": 1}).content))
    assert out.split() == [b"65534", b"65534", b"65534"]
    api.delete(f"/containers/{cid}")

    r = api.post("/containers/create", json={"Image": "busybox", "User": "nosuchuser"})
    assert r.status_code == 400
    assert r.json()["message"] == "unable to find user nosuchuser: no matching entries in passwd file"
    r = api.post("/containers/create", json={"Image": "busybox", "User": "root:nosuchgroup"})
    assert r.status_code == 400
    assert r.json()["message"] == "unable to find group nosuchgroup: no matching entries in group file"
    names = [c["Names"] for c in api.get("/containers/json", params={"all": 1}).json()]
    assert not [n for n in names if "nosuch" in str(n)]


def test_names_ids_and_prefixes_are_resolved_like_docker(api: httpx.Client) -> None:
    r = api.post("/containers/create", params={"name": "unique"}, json={"Image": "busybox"})
    cid = r.json()["Id"]
    r = api.post("/containers/create", params={"name": "unique"}, json={"Image": "busybox"})
    assert r.status_code == 409
    assert r.json()["message"] == (
        f'Conflict. The container name "/unique" is already in use by container "{cid}". '
        "You have to remove (or rename) that container to be able to reuse that name.")
    for ref in ("unique", cid, cid[:12]):
        assert api.get(f"/containers/{ref}/json").json()["Id"] == cid
    r = api.get("/containers/nosuch/json")
    assert r.status_code == 404 and r.json() == {"message": "No such container: nosuch"}
    assert api.post("/containers/nosuch/start").status_code == 404
    assert api.delete("/containers/nosuch").status_code == 404
    api.delete(f"/containers/{cid}")


def test_bad_input_is_a_400_with_a_message_never_a_500(api: httpx.Client) -> None:
    cases = [
        ("POST", "/containers/create", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/containers/create", {"json": []}),
        ("POST", "/containers/create", {"json": {"Image": "busybox", "Env": "A=1"}}),
        ("POST", "/containers/create", {"json": {"Image": "busybox", "Cmd": [1, 2]}}),
        ("POST", "/containers/create", {"json": {"Image": "busybox", "Tty": "yes"}}),
        ("POST", "/containers/create", {"json": {"Image": "busybox", "HostConfig": {"Memory": "lots"}}}),
        ("POST", "/containers/create", {"json": {"Image": "busybox", "HostConfig": []}}),
        ("POST", "/containers/create", {"json": {}}),
        ("POST", "/containers/create?name=bad%20name", {"json": {"Image": "busybox"}}),
        ("POST", "/containers/create", {"json": {"Image": "busybox", "HostConfig": {"Runtime": "nosuch"}}}),
        ("POST", "/containers/create", {"json": {"Image": "busybox", "User": "someone"}}),
        ("POST", "/containers/create", {"json": {"Image": "busybox", "WorkingDir": "relative/dir"}}),
        ("POST", "/containers/create", {"json": {"Image": "busybox", "StopSignal": "SIGNOPE"}}),
        ("GET", "/containers/json?filters=notjson", {}),
        ("GET", "/containers/json?limit=many", {}),
        ("POST", "/images/create?fromSrc=-&repo=Bad_Repo", {"content": b""}),
        ("POST", "/images/create?fromSrc=-&repo=x&changes=FROB%20x", {"content": b""}),
        ("POST", "/images/create", {"content": b""}),
    ]
    for method, url, kwargs in cases:
        r = api.request(method, url, **kwargs)
        assert r.status_code == 400, (url, kwargs, r.status_code, r.text)
        assert isinstance(r.json()["message"], str) and r.json()["message"], (url, r.text)
        assert "Traceback" not in r.text
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "100"]})
    for url in (f"/containers/{cid}/kill?signal=SIGNOPE", f"/containers/{cid}/stop?t=soon",
                f"/containers/{cid}/wait?condition=whenever"):
        r = api.post(url)
        assert r.status_code == 400, (url, r.text)
    assert api.get("/no/such/endpoint").json() == {"message": "page not found"}
    api.delete(f"/containers/{cid}", params={"force": 1})


def test_debian_runc_can_be_the_runtime(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", "echo via runc"],
                              "HostConfig": {"Runtime": "runc"}})
    assert wait_exit(api, cid) == 0
    assert demux(api.get(f"/containers/{cid}/logs", params={"stdout": 1}).content) == [(1, b"via runc\n")]
    assert api.get(f"/containers/{cid}/json").json()["HostConfig"]["Runtime"] == "runc"
    api.delete(f"/containers/{cid}")


def test_rm_racing_start_gives_one_clean_outcome(berthd: Berthd, api: httpx.Client) -> None:
    for delay in (0.0, 0.01, 0.03):
        cid = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["sleep", "100"]}).json()["Id"]
        with concurrent.futures.ThreadPoolExecutor(1) as pool, berthd.client() as other:
            start = pool.submit(other.post, f"/containers/{cid}/start")
            time.sleep(delay)
            rm = api.delete(f"/containers/{cid}")
            started = start.result()
        after = api.get(f"/containers/{cid}/json")
        if rm.status_code == 204:  # the removal won: nothing is left, start was refused
            assert after.status_code == 404
            assert started.status_code == 404 or (
                started.status_code == 409 and "marked for removal" in started.json()["message"]), started.text
        else:  # the start won: rm refuses in docker's words and the container runs on
            assert started.status_code == 204 and rm.status_code == 409, (started.text, rm.text)
            assert "container is running" in rm.json()["message"]
            assert after.json()["State"]["Status"] == "running"
            assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204
