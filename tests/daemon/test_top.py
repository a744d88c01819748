"""GET /containers/{id}/top as dockerd answers it (daemon/top_unix.go): the host's ps with
the client's ps_args, the container's lines only, and dockerd's 500s, in its words, when
ps fails or its output has no PID column; each such 500 logged once with its traceback."""

from __future__ import annotations

import os
import subprocess

import httpx
import pytest
from tests.daemon.conftest import Berthd, run_container, wait_until


@pytest.fixture
def sleeper(api: httpx.Client) -> str:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", "sleep 1000 & wait"]})
    assert wait_until(lambda: len(_pids(api, cid)) == 2)  # sh has forked its sleep
    yield cid
    api.delete(f"/containers/{cid}", params={"force": 1})


def _pids(api: httpx.Client, cid: str) -> set[str]:
    init = api.get(f"/containers/{cid}/json").json()["State"]["Pid"]
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(init)], capture_output=True, text=True).stdout
    return {str(init), *children.split()}


def _log_size(berthd: Berthd) -> int:
    return os.path.getsize(os.path.join(berthd.root, "berthd.log"))


def _log_since(berthd: Berthd, offset: int) -> str:
    with open(os.path.join(berthd.root, "berthd.log"), errors="replace") as f:
        f.seek(offset)
        return f.read()


def test_default_and_custom_columns(api: httpx.Client, sleeper: str) -> None:
    pids = _pids(api, sleeper)
    top = api.get(f"/containers/{sleeper}/top").json()
    assert top["Titles"] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert {p[1] for p in top["Processes"]} == pids
    assert any(p[-1] == "sleep 1000" for p in top["Processes"])  # the last column keeps its spaces
    top = api.get(f"/containers/{sleeper}/top", params={"ps_args": "-o pid,comm"}).json()
    assert top["Titles"] == ["PID", "COMMAND"]
    assert sorted(p[1] for p in top["Processes"]) == ["sh", "sleep"]
    top = api.get(f"/containers/{sleeper}/top", params={"ps_args": "aux"}).json()
    assert top["Titles"][:2] == ["USER", "PID"] and {p[1] for p in top["Processes"]} == pids


def test_options_that_refuse_q_are_filtered_here(api: httpx.Client, sleeper: str) -> None:
    # ps's forest (f) cannot go with -q: dockerd runs ps again without it and filters.
    top = api.get(f"/containers/{sleeper}/top", params={"ps_args": "axf"}).json()
    assert {p[0] for p in top["Processes"]} == _pids(api, sleeper)


def test_thread_lines_follow_their_process(api: httpx.Client, sleeper: str) -> None:
    top = api.get(f"/containers/{sleeper}/top", params={"ps_args": "m -o pid,tid,comm"}).json()
    assert top["Titles"] == ["PID", "TID", "COMMAND"]
    procs = top["Processes"]
    assert {p[0] for p in procs if p[0] != "-"} == _pids(api, sleeper)
    assert len([p for p in procs if p[0] == "-"]) == len([p for p in procs if p[0] != "-"])


def test_no_pid_column_is_dockers_500_logged_once(api: httpx.Client, berthd: Berthd, sleeper: str) -> None:
    before = _log_size(berthd)
    r = api.get(f"/containers/{sleeper}/top", params={"ps_args": "-o comm"})
    assert r.status_code == 500
    assert r.json() == {"message": "Couldn't find PID field in ps output"}
    logged = _log_since(berthd, before)
    assert logged.count("Traceback (most recent call last)") == 1, logged
    assert "Couldn't find PID field in ps output" in logged
    assert "Exception in ASGI application" not in logged


def test_ps_failures_are_dockers_500s(api: httpx.Client, sleeper: str) -> None:
    oracle = subprocess.run(["ps", "--no-such-option"], capture_output=True, text=True)
    assert oracle.returncode != 0
    r = api.get(f"/containers/{sleeper}/top", params={"ps_args": "--no-such-option"})
    assert r.status_code == 500
    assert r.json() == {"message": "ps: " + oracle.stderr.splitlines()[0]}
    # Another column named PID would pass for the pid column.
    r = api.get(f"/containers/{sleeper}/top", params={"ps_args": "-o comm=PID"})
    assert (r.status_code, r.json()) == (500, {"message": 'specifying "comm=PID" is not allowed'})
    r = api.get("/containers/nosuch/top", params={"ps_args": "-o comm=PID"})  # checked first, as dockerd
    assert r.status_code == 500
    assert api.get(f"/containers/{sleeper}/top", params={"ps_args": "-o pid=PID,comm"}).status_code == 200


def test_top_of_a_stopped_or_missing_container(api: httpx.Client) -> None:
    cid = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["true"]}).json()["Id"]
    r = api.get(f"/containers/{cid}/top")
    assert (r.status_code, r.json()) == (409, {"message": f"Container {cid} is not running"})
    r = api.get("/containers/nosuch/top")
    assert (r.status_code, r.json()) == (404, {"message": "No such container: nosuch"})
    assert api.delete(f"/containers/{cid}").status_code == 204


def test_docker_top(berthd: Berthd, api: httpx.Client, sleeper: str) -> None:
    r = berthd.docker("top", sleeper, "-o", "comm")
    assert r.returncode == 1
    assert r.stderr.strip() == "Error response from daemon: Couldn't find PID field in ps output"
    out = berthd.docker("top", sleeper, "-o", "pid,comm", check=True).stdout.split("\n")
    assert out[0].split() == ["PID", "COMMAND"]
    assert sorted(line.split()[1] for line in out[1:] if line) == ["sh", "sleep"]
