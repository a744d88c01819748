"""--init (tini as PID 1: reaps orphans, forwards signals), --group-add, --stop-signal,
log drivers with rotation, top-level HostConfig fields, --label-file."""

from __future__ import annotations

import glob
import os
import time

import httpx
import pytest

from tests.daemon.conftest import Berthd, run_container, wait_until
from tests.daemon.test_api import demux


def _out(api: httpx.Client, cid: str) -> bytes:
    return b"".join(d for s, d in demux(api.get(f"/containers/{cid}/logs", params={"stdout": 1, "stderr": 1}).content))


def _wait(api: httpx.Client, cid: str) -> int:
    return api.post(f"/containers/{cid}/wait").json()["StatusCode"]


def _exec(api: httpx.Client, cid: str, cmd: list[str]) -> bytes:
    eid = api.post(f"/containers/{cid}/exec", json={"Cmd": cmd, "AttachStdout": True}).json()["Id"]
    r = api.post(f"/exec/{eid}/start", json={"Detach": False, "Tty": False})
    return b"".join(d for _, d in demux(r.content))


def _zombies(api: httpx.Client, cid: str) -> int:
    """The orphaned `sleep`s left zombies: the exec'd `cat`s and `ps`es are the shim's
    children, which it may not have reaped yet when the next `ps` looks."""
    rows = [line.split() for line in _exec(api, cid, ["ps", "-o", "stat,comm"]).splitlines()[1:]]
    return sum(stat.startswith(b"Z") and comm == b"sleep" for stat, comm, *_ in rows)


@pytest.mark.parametrize("init", [True, False])
def test_init_is_pid_1_and_reaps_orphans(api: httpx.Client, init: bool) -> None:
    # the subshell leaves `sleep 0.2` an orphan: it becomes PID 1's child, which must reap it
    cid = run_container(api, {"Image": "busybox", "HostConfig": {"Init": init}, "Cmd": [
        "sh", "-c", "(sleep 0.2 &); exec sleep 300"]})
    st = api.get(f"/containers/{cid}/json").json()
    assert st["HostConfig"]["Init"] is init and st["Path"] == "sh"  # docker shows the command, not the init
    pid1 = _exec(api, cid, ["cat", "/proc/1/cmdline"]).split(b"\0")
    assert pid1[:3] == ([b"/sbin/docker-init", b"--", b"sh"] if init else [b"sleep", b"300", b""])
    # without an init, `sleep` as PID 1 leaves the orphan a zombie: this is what --init is for
    assert wait_until(lambda: _zombies(api, cid) == (0 if init else 1), timeout=5)
    assert _zombies(api, cid) == (0 if init else 1)
    if init:  # the init forwards stop's SIGTERM to the command (sleep dies of it: 143)
        assert api.post(f"/containers/{cid}/stop", params={"t": 30}).status_code == 204
        assert api.get(f"/containers/{cid}/json").json()["State"]["ExitCode"] == 143
        assert api.get(f"/containers/{cid}/json").json()["State"]["OOMKilled"] is False
    assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204


def test_without_init_the_command_is_pid_1(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["cat", "/proc/1/comm"]})
    assert _wait(api, cid) == 0 and _out(api, cid) == b"cat\n"
    assert api.delete(f"/containers/{cid}").status_code == 204


def test_group_add_by_name_and_number(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["id"], "HostConfig": {"GroupAdd": ["nogroup", "1234"]}})
    assert _wait(api, cid) == 0
    out = _out(api, cid).decode()
    assert "groups=" in out and "65534(nogroup)" in out and "1234" in out, out
    assert api.delete(f"/containers/{cid}").status_code == 204
    r = api.post("/containers/create", json={"Image": "busybox", "HostConfig": {"GroupAdd": ["nosuchgroup"]}})
    assert r.status_code == 400 and "Unable to find group nosuchgroup" in r.json()["message"]


def test_stop_signal_is_used_by_stop(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "StopSignal": "SIGUSR1", "Cmd": [
        "sh", "-c", "trap 'echo got usr1; exit 5' USR1; trap '' TERM; while true; do sleep 0.1; done"]})
    time.sleep(0.3)  # let the shell install its traps (not an assertion)
    assert api.post(f"/containers/{cid}/stop", params={"t": 20}).status_code == 204
    assert api.get(f"/containers/{cid}/json").json()["State"]["ExitCode"] == 5
    assert b"got usr1" in _out(api, cid)
    assert api.delete(f"/containers/{cid}").status_code == 204


def test_rotation_keeps_max_file_files_of_max_size(berthd: Berthd, api: httpx.Client) -> None:
    size = 1_000_000  # 1m, decimal as docker's
    cid = run_container(api, {"Image": "busybox", "HostConfig": {"LogConfig": {
        "Type": "json-file", "Config": {"max-size": "1m", "max-file": "3"}}}, "Cmd": [
        "sh", "-c", "i=0; while [ $i -lt 100 ]; do head -c 1000000 /dev/zero | tr '\\0' a | fold -w 99; "
                    "i=$((i+1)); done; echo; echo THE-END"]})
    assert _wait(api, cid) == 0
    log = api.get(f"/containers/{cid}/json").json()["LogPath"]
    files = sorted(glob.glob(log + "*"))
    assert files == [log, log + ".1", log + ".2"]
    assert all(os.path.getsize(f) <= size for f in files)
    assert os.path.getsize(log + ".1") > size * 0.9
    out = _out(api, cid)
    assert out.endswith(b"THE-END\n") and len(out) > 2 * size * 0.5
    tail = demux(api.get(f"/containers/{cid}/logs", params={"stdout": 1, "tail": "2"}).content)
    assert [d for _, d in tail][-1] == b"THE-END\n" and len(tail) == 2
    assert api.delete(f"/containers/{cid}").status_code == 204


def test_follow_goes_on_across_a_rotation(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "HostConfig": {"LogConfig": {
        "Type": "local", "Config": {"max-size": "10k", "max-file": "2"}}}, "Cmd": [
        "sh", "-c", "sleep 1; i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); "
                    "[ $((i % 50)) = 0 ] && sleep 0.05; done"]})
    with api.stream("GET", f"/containers/{cid}/logs", params={"stdout": 1, "follow": 1}) as r:
        body = b"".join(r.iter_bytes())
    lines = [d for _, d in demux(body)]
    assert lines[0] == b"line 0\n" and lines[-1] == b"line 1999\n"
    assert lines == [b"line %d\n" % i for i in range(2000)]
    assert api.delete(f"/containers/{cid}").status_code == 204


def test_log_driver_none_and_unknown_ones(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["echo", "hi"], "HostConfig": {"LogConfig": {"Type": "none"}}})
    assert _wait(api, cid) == 0
    r = api.get(f"/containers/{cid}/logs", params={"stdout": 1})
    assert r.status_code == 501 and r.json()["message"] == "configured logging driver does not support reading"
    assert api.delete(f"/containers/{cid}").status_code == 204
    for lc, msg in (({"Type": "syslog"}, "logger: no log driver named 'syslog' is registered"),
                    ({"Type": "json-file", "Config": {"x": "1"}}, "unknown log opt 'x' for json-file log driver"),
                    ({"Type": "json-file", "Config": {"max-file": "0"}}, "max-file cannot be less than 1"),
                    ({"Type": "json-file", "Config": {"max-size": "0"}}, "max-size must be a positive number")):
        before = len(api.get("/containers/json", params={"all": 1}).json())
        r = api.post("/containers/create", json={"Image": "busybox", "HostConfig": {"LogConfig": lc}})
        assert r.status_code == 400, r.text
        assert r.json()["message"] == msg or msg in r.json()["message"]
        assert len(api.get("/containers/json", params={"all": 1}).json()) == before


@pytest.mark.parametrize("runtime", ["runc", None])
def test_top_level_host_config_fields(api: httpx.Client, runtime: str | None) -> None:
    body: dict = {"Image": "busybox", "Cmd": ["true"], "Memory": 64 * 1024 * 1024}
    if runtime:
        body["Runtime"] = runtime
    r = api.post("/containers/create", json=body)
    assert r.status_code == 201, r.text
    cid = r.json()["Id"]
    st = api.get(f"/containers/{cid}/json").json()
    assert st["HostConfig"]["Runtime"] == (runtime or "berth")
    assert st["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert "Runtime" not in st["Config"] and "Memory" not in st["Config"]
    assert api.post(f"/containers/{cid}/start").status_code == 204
    assert _wait(api, cid) == 0
    assert api.delete(f"/containers/{cid}").status_code == 204
    # with a HostConfig as well, HostConfig wins
    r = api.post("/containers/create", json={"Image": "busybox", "Runtime": "runc", "HostConfig": {}})
    cid = r.json()["Id"]
    assert api.get(f"/containers/{cid}/json").json()["HostConfig"]["Runtime"] == "berth"
    assert api.delete(f"/containers/{cid}").status_code == 204
