"""An OOM kill of a process other than the init: the container lives on, the event says
it at once, and the container's end says OOMKilled — what Debian's dockerd 20.10 shows
for the same story (create, start, exec_create, exec_start, oom, exec_die; after stop,
OOMKilled true and exit 137)."""

from __future__ import annotations

import json
import time

import httpx
from tests.daemon.conftest import Berthd, wait_until
from tests.daemon.test_limits import berth, rm


def _actions(api: httpx.Client, since: float, name: str) -> list[str]:
    r = api.get("/events", params={"since": str(since), "until": str(time.time()),
                                   "filters": f'{{"container":["{name}"]}}'})
    return [json.loads(line)["Action"] for line in r.text.splitlines()]


def test_an_exec_killed_for_memory_is_an_oom_event_while_the_container_runs(berthd: Berthd,
                                                                            api: httpx.Client) -> None:
    start = time.time()
    r = berth(berthd, "run", "-d", "--name", "childhog", "-m", "32m", "--memory-swap", "32m", "busybox",
              "sleep", "600")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        hog = berth(berthd, "exec", "childhog", "tail", "/dev/zero")
        assert hog.returncode == 137
        # the event comes while the container runs, not at its end
        assert wait_until(lambda: "oom" in _actions(api, start, "childhog"))
        state = api.get(f"/containers/{cid}/json").json()["State"]
        assert (state["Status"], state["OOMKilled"]) == ("running", False)
        actions = _actions(api, start, "childhog")
        assert actions[:4] == ["create", "start", "exec_create: tail /dev/zero", "exec_start: tail /dev/zero"]
        assert sorted(actions[4:6]) == ["exec_die", "oom"]  # two streams: either may be logged first
        assert berth(berthd, "stop", "-t", "1", "childhog").returncode == 0
        state = api.get(f"/containers/{cid}/json").json()["State"]
        assert (state["Status"], state["OOMKilled"], state["ExitCode"]) == ("exited", True, 137)
        # one oom event for one kill: the exit does not repeat it
        assert _actions(api, start, "childhog").count("oom") == 1
    finally:
        rm(api, cid)


def test_exec_events_name_the_command_and_the_exit_code(berthd: Berthd, api: httpx.Client) -> None:
    r = berth(berthd, "run", "-d", "--name", "execevents", "--label", "team=red", "busybox", "sleep", "600")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        start = time.time()
        assert berth(berthd, "exec", "execevents", "sh", "-c", "exit 3").returncode == 3
        assert wait_until(lambda: "exec_die" in _actions(api, start, "execevents"))
        got = [json.loads(line) for line in api.get("/events", params={
            "since": str(start), "until": str(time.time()), "filters": '{"container":["execevents"]}'}).text.splitlines()]
        assert [e["Action"] for e in got] == ["exec_create: sh -c exit 3", "exec_start: sh -c exit 3", "exec_die"]
        eid = got[0]["Actor"]["Attributes"]["execID"]
        assert len(eid) == 64 and all(e["Actor"]["ID"] == cid and e["Type"] == "container" for e in got)
        assert got[2]["Actor"]["Attributes"] == {"execID": eid, "exitCode": "3", "image": "busybox",
                                                 "name": "execevents", "team": "red"}
        assert got[0]["status"] == "exec_create: sh -c exit 3" and got[0]["from"] == "busybox"
    finally:
        rm(api, cid)
