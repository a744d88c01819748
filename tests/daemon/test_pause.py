"""docker pause / unpause: the freezer through the runtime, dockerd's states, words and
events; exec and attach refuse a paused container, stop and kill still end it."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from tests.daemon.conftest import Berthd, run_container, wait_until
from tests.daemon.test_exec import CLIS, cli


def _freezer_state(pid: int) -> bool:
    """The kernel's word: cgroup v2 cgroup.freeze / v1 freezer.state of the process's cgroup."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = f.read().splitlines()
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            with open(f"/sys/fs/cgroup{path}/cgroup.events") as ev:
                return "frozen 1" in ev.read()
        if "freezer" in controllers.split(","):
            with open(f"/sys/fs/cgroup/freezer{path}/freezer.state") as st:
                return st.read().strip() == "FROZEN"
    return False


@pytest.fixture
def sleeper(api: httpx.Client) -> str:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "100000"]})
    yield cid
    api.delete(f"/containers/{cid}", params={"force": 1})


@pytest.mark.parametrize("which", CLIS)
def test_pause_freezes_and_unpause_thaws(berthd: Berthd, api: httpx.Client, sleeper: str, which: str) -> None:
    since = str(time.time() - 1)
    pid = api.get(f"/containers/{sleeper}/json").json()["State"]["Pid"]
    assert cli(berthd, which, "pause", sleeper).stdout == f"{sleeper}\n"
    assert wait_until(lambda: _freezer_state(pid))
    state = api.get(f"/containers/{sleeper}/json").json()["State"]
    assert (state["Status"], state["Running"], state["Paused"]) == ("paused", True, True)
    ps = cli(berthd, which, "ps", "--no-trunc")
    assert "(Paused)" in ps.stdout
    listed = api.get("/containers/json", params={"filters": '{"status":["paused"]}'}).json()
    assert [c["Id"] for c in listed] == [sleeper] and listed[0]["State"] == "paused"
    r = cli(berthd, which, "pause", sleeper)
    assert r.returncode == 1 and f"Container {sleeper} is already paused" in r.stderr
    r = cli(berthd, which, "exec", sleeper, "true")
    assert r.returncode != 0 and "is paused, unpause the container before exec" in r.stderr
    assert cli(berthd, which, "unpause", sleeper).returncode == 0
    assert not _freezer_state(pid)
    r = cli(berthd, which, "unpause", sleeper)
    assert r.returncode == 1 and f"Container {sleeper} is not paused" in r.stderr
    events = api.get("/events", params={"since": since, "until": str(time.time()),
                                        "filters": '{"container":["%s"]}' % sleeper}).text
    actions = [json.loads(line)["Action"] for line in events.splitlines() if line.strip()]
    assert "pause" in actions and actions.index("pause") < actions.index("unpause")


def test_stop_and_kill_of_a_paused_container(berthd: Berthd, api: httpx.Client) -> None:
    for how in ("stop", "kill"):
        cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "100000"]})
        assert api.post(f"/containers/{cid}/pause").status_code == 204
        r = api.post(f"/containers/{cid}/{how}", params={"t": "1"} if how == "stop" else None)
        assert r.status_code == 204, r.text
        state = api.get(f"/containers/{cid}/json").json()["State"]
        assert (state["Status"], state["Paused"]) == ("exited", False)
        r = api.post(f"/containers/{cid}/pause")
        assert (r.status_code, r.json()["message"]) == (409, f"Container {cid} is not running")
        r = api.post(f"/containers/{cid}/unpause")
        assert (r.status_code, r.json()["message"]) == (409, f"Container {cid} is not paused")
        api.delete(f"/containers/{cid}")


def test_attach_refused_and_paused_survives_a_berthd_restart(berthd: Berthd, api: httpx.Client, sleeper: str) -> None:
    assert api.post(f"/containers/{sleeper}/pause").status_code == 204
    r = api.post(f"/containers/{sleeper}/attach", params={"stream": "1", "stdout": "1"})
    assert r.status_code == 409 and "is paused, unpause the container before attach" in r.json()["message"]
    berthd.stop()
    berthd.start()
    with berthd.client() as c:
        state = c.get(f"/containers/{sleeper}/json").json()["State"]
        assert (state["Status"], state["Paused"], state["Running"]) == ("paused", True, True)
        assert c.post(f"/containers/{sleeper}/unpause").status_code == 204
