"""docker rename and docker restart (the command), with dockerd's words and events."""

from __future__ import annotations

import json
import threading
import time
import uuid

import httpx
import pytest
from tests.daemon.conftest import Berthd, run_container
from tests.daemon.test_exec import CLIS, cli


@pytest.mark.parametrize("which", CLIS)
def test_rename(berthd: Berthd, api: httpx.Client, which: str) -> None:
    a, b = f"ren-{uuid.uuid4().hex[:6]}", f"ren-{uuid.uuid4().hex[:6]}"
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "100000"]}, name=a)
    other = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "100000"]}, name=b)
    try:
        since = str(time.time() - 1)
        r = cli(berthd, which, "rename", a, b)
        assert r.returncode == 1
        assert (f'Error response from daemon: Error when allocating new name: Conflict. The container name "/{b}" '
                f'is already in use by container "{other}"') in r.stderr
        assert f"Error: failed to rename container named {a}" in r.stderr
        r = cli(berthd, which, "rename", a, "bad name")
        assert r.returncode == 1 and "Invalid container name (/bad name)" in r.stderr
        r = cli(berthd, which, "rename", a, a)
        assert "Renaming a container with the same name as its current name" in r.stderr
        new = a + "-new"
        assert cli(berthd, which, "rename", a, new).returncode == 0
        assert api.get(f"/containers/{new}/json").json()["Name"] == f"/{new}"
        assert api.get(f"/containers/{a}/json").status_code == 404
        # the old name is free at once
        again = run_container(api, {"Image": "busybox", "Cmd": ["true"]}, name=a)
        api.delete(f"/containers/{again}", params={"force": 1})
        events = api.get("/events", params={"since": since, "until": str(time.time())}).text
        renames = [e for e in map(json.loads, events.splitlines()) if e["Action"] == "rename"]
        assert renames[-1]["Actor"]["Attributes"]["oldName"] == f"/{a}"
        assert renames[-1]["Actor"]["Attributes"]["name"] == new
    finally:
        for x in (cid, other):
            api.delete(f"/containers/{x}", params={"force": 1})


def test_rename_bad_input(api: httpx.Client) -> None:
    assert api.post("/containers/nosuch/rename", params={"name": "x1"}).status_code == 404
    cid = run_container(api, {"Image": "busybox", "Cmd": ["true"]})
    try:
        r = api.post(f"/containers/{cid}/rename", params={"name": ""})
        assert (r.status_code, r.json()["message"]) == (400, "Neither old nor new names may be empty")
        r = api.post(f"/containers/{cid}/rename", params={"name": "-x"})
        assert r.status_code == 400
    finally:
        api.delete(f"/containers/{cid}", params={"force": 1})


@pytest.mark.parametrize("which", CLIS)
def test_restart(berthd: Berthd, api: httpx.Client, which: str) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "100000"]})
    try:
        before = api.get(f"/containers/{cid}/json").json()["State"]
        since = str(time.time() - 1)
        r = cli(berthd, which, "restart", "-t", "1", cid)
        assert (r.returncode, r.stdout) == (0, f"{cid}\n"), r.stderr
        after = api.get(f"/containers/{cid}/json").json()["State"]
        assert after["Running"] and after["Pid"] != before["Pid"] and after["StartedAt"] != before["StartedAt"]
        events = api.get("/events", params={"since": since, "until": str(time.time()),
                                            "filters": '{"container":["%s"]}' % cid}).text
        actions = [json.loads(line)["Action"] for line in events.splitlines() if line.strip()]
        actions = [a for a in actions if a in ("kill", "die", "stop", "start", "restart")]
        assert actions[-4:] == ["die", "stop", "start", "restart"] and "kill" in actions
        # a stopped container is started; a paused one stopped and started
        assert api.post(f"/containers/{cid}/stop", params={"t": "0"}).status_code == 204
        assert cli(berthd, which, "restart", cid).returncode == 0
        assert api.get(f"/containers/{cid}/json").json()["State"]["Running"]
        assert api.post(f"/containers/{cid}/pause").status_code == 204
        assert api.post(f"/containers/{cid}/restart", params={"t": "1", "signal": "SIGKILL"}).status_code == 204
        state = api.get(f"/containers/{cid}/json").json()["State"]
        assert state["Running"] and not state["Paused"]
        assert cli(berthd, which, "restart", "nosuch").returncode == 1
    finally:
        api.delete(f"/containers/{cid}", params={"force": 1})


@pytest.mark.parametrize("which", CLIS)
def test_top_and_wait(berthd: Berthd, api: httpx.Client, which: str) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "100000"]})
    quick = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", "exit 3"]})
    try:
        r = cli(berthd, which, "top", cid)
        assert r.returncode == 0 and r.stdout.startswith("UID ") and "sleep 100000" in r.stdout
        r = cli(berthd, which, "top", cid, "-o", "pid,comm")
        assert r.stdout.splitlines()[0].split() == ["PID", "COMMAND"] and "sleep" in r.stdout
        r = cli(berthd, which, "wait", quick)
        assert (r.returncode, r.stdout) == (0, "3\n")
    finally:
        for x in (cid, quick):
            api.delete(f"/containers/{x}", params={"force": 1})


def test_berth_wait_takes_the_apis_conditions(berthd: Berthd, api: httpx.Client) -> None:
    """`berth wait --condition` (the API's condition; the docker CLI has no such flag)."""
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", "sleep 3; exit 4"]})
    removed: list = []
    waiter = threading.Thread(target=lambda: removed.append(
        cli(berthd, "berth", "wait", "--condition", "removed", cid)))
    waiter.start()
    try:
        r = cli(berthd, "berth", "wait", "--condition", "sometime", cid)
        assert r.returncode == 1 and "invalid condition" in r.stderr
        r = cli(berthd, "berth", "wait", "--condition", "next-exit", cid)
        assert (r.returncode, r.stdout) == (0, "4\n")
        assert waiter.is_alive()  # exited, not yet removed
        assert api.delete(f"/containers/{cid}").status_code == 204
        waiter.join(30)
        assert removed and (removed[0].returncode, removed[0].stdout) == (0, "4\n")
    finally:
        api.delete(f"/containers/{cid}", params={"force": 1})
        waiter.join(30)
