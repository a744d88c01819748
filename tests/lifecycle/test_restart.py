"""Restart policies as dockerd applies them: on-failure:N, always, unless-stopped; the
user's stop and kill end them; berthd (and berth-containerd) killed with -9 still honour
them once back; bad policies refused with dockerd's words."""

from __future__ import annotations

import json
import os
import signal
import time

import httpx
import pytest

from tests.daemon.conftest import Berthd, run_container, wait_until
from tests.host import alive


def _state(api: httpx.Client, cid: str) -> dict:
    return api.get(f"/containers/{cid}/json").json()


def _events(api: httpx.Client, cid: str) -> list[str]:
    r = api.get("/events", params={"since": "0", "until": f"{time.time():.9f}", "filters": f'{{"container":["{cid}"]}}'})
    return [json.loads(line)["Action"] for line in r.text.splitlines() if line.strip()]


def _running(api: httpx.Client, cid: str) -> bool:
    return _state(api, cid)["State"]["Status"] == "running"


def _restarted(api: httpx.Client, cid: str, pid: int) -> bool:
    """Running again under a new process, read in one inspect (while restarting, Pid is 0)."""
    state = _state(api, cid)["State"]
    return state["Status"] == "running" and state["Pid"] not in (0, pid)


def _policy(name: str, count: int = 0) -> dict:
    return {"RestartPolicy": {"Name": name, "MaximumRetryCount": count}}


def test_on_failure_3_restarts_three_times_then_stops(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", "echo run; exit 3"],
                              "HostConfig": _policy("on-failure", 3)})
    assert wait_until(lambda: _state(api, cid)["RestartCount"] == 3 and _state(api, cid)["State"]["Status"]
                      == "exited", timeout=30)
    st = _state(api, cid)
    assert st["State"]["ExitCode"] == 3 and not st["State"]["Restarting"]
    assert st["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    logs = api.get(f"/containers/{cid}/logs", params={"stdout": 1}).content
    assert logs.count(b"run\n") == 4  # the first run and three restarts
    actions = _events(api, cid)
    assert actions.count("die") == 4 and actions.count("start") == 4 and "restart" not in actions
    assert actions.index("die") < actions.index("start", actions.index("die"))  # die, then start
    assert api.delete(f"/containers/{cid}").status_code == 204


def test_on_failure_does_not_restart_success_and_no_does_not_restart(api: httpx.Client) -> None:
    ok = run_container(api, {"Image": "busybox", "Cmd": ["true"], "HostConfig": _policy("on-failure")})
    no = run_container(api, {"Image": "busybox", "Cmd": ["false"], "HostConfig": _policy("no")})
    for cid in (ok, no):
        assert api.post(f"/containers/{cid}/wait").status_code == 200
    for cid in (ok, no):
        st = _state(api, cid)
        assert st["State"]["Status"] == "exited" and st["RestartCount"] == 0
        assert api.delete(f"/containers/{cid}").status_code == 204


def test_always_restarts_after_a_crash_and_stop_ends_it(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"], "HostConfig": _policy("always")})
    pid = _state(api, cid)["State"]["Pid"]
    os.kill(pid, signal.SIGKILL)  # a crash, not the user's kill
    assert wait_until(lambda: _state(api, cid)["State"]["Pid"] not in (0, pid))
    st = _state(api, cid)
    assert st["State"]["Running"] and st["RestartCount"] == 1 and alive(st["State"]["Pid"])
    assert api.post(f"/containers/{cid}/stop", params={"t": 1}).status_code == 204
    st = _state(api, cid)
    assert st["State"]["Status"] == "exited"
    assert not alive(pid) and not alive(st["State"]["Pid"] or pid)
    # still stopped a while later: nothing restarts it (polled against a restart, not timed)
    assert not wait_until(lambda: _state(api, cid)["State"]["Status"] != "exited", timeout=1.5)
    # the user's start begins a new count
    assert api.post(f"/containers/{cid}/start").status_code == 204
    assert _state(api, cid)["RestartCount"] == 0
    assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204


def test_kill_ends_always_and_restarting_state_is_shown(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", "sleep 0.5; exit 1"],
                              "HostConfig": _policy("always")})
    seen = wait_until(lambda: _state(api, cid)["State"]["Restarting"], timeout=20, interval=0.01)
    if seen:  # caught in its backoff: docker's State and ps text
        ps = {c["Id"]: c for c in api.get("/containers/json", params={"all": 1}).json()}
        assert ps[cid]["State"] in ("restarting", "running")
    assert wait_until(lambda: _state(api, cid)["State"]["Running"] and not _state(api, cid)["State"]["Restarting"])
    assert api.post(f"/containers/{cid}/kill").status_code == 204
    assert not wait_until(lambda: _state(api, cid)["State"]["Status"] != "exited", timeout=1.5)
    assert api.delete(f"/containers/{cid}").status_code == 204


def test_unless_stopped_stays_stopped_across_a_berthd_restart(berthd: Berthd) -> None:
    with berthd.client() as api:
        stopped = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"],
                                      "HostConfig": _policy("unless-stopped")})
        crashed = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"],
                                      "HostConfig": _policy("unless-stopped")})
        assert api.post(f"/containers/{stopped}/stop", params={"t": 1}).status_code == 204
        pid = _state(api, crashed)["State"]["Pid"]
    berthd.kill9(containerd=True)
    os.kill(pid, signal.SIGKILL)  # dies while nothing of berth runs
    assert wait_until(lambda: not alive(pid))
    berthd.start()
    with berthd.client() as api:
        assert wait_until(lambda: _running(api, crashed))
        st = _state(api, crashed)
        assert st["State"]["Pid"] != pid and alive(st["State"]["Pid"])
        assert _state(api, stopped)["State"]["Status"] == "exited"
        for cid in (stopped, crashed):
            assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204


def test_always_survives_kill_9_of_berthd_and_containerd(berthd: Berthd) -> None:
    with berthd.client() as api:
        cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"], "HostConfig": _policy("always")})
        user_stopped = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"],
                                           "HostConfig": _policy("always")})
        assert api.post(f"/containers/{user_stopped}/stop", params={"t": 1}).status_code == 204
        pid = _state(api, cid)["State"]["Pid"]
    berthd.kill9(containerd=True)
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not alive(pid))
    berthd.start()
    with berthd.client() as api:
        assert wait_until(lambda: _running(api, cid))
        assert alive(_state(api, cid)["State"]["Pid"])
        # as dockerd at its start: `always` starts again even if the user had stopped it
        assert wait_until(lambda: _running(api, user_stopped))
        for c in (cid, user_stopped):
            assert api.delete(f"/containers/{c}", params={"force": 1}).status_code == 204


def test_always_after_containerd_alone_is_killed(berthd: Berthd) -> None:
    with berthd.client() as api:
        cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"], "HostConfig": _policy("always")})
        pid = _state(api, cid)["State"]["Pid"]
        old = berthd.containerd_pid()
        os.kill(old, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: berthd.containerd_pid() != old)
        assert wait_until(lambda: _restarted(api, cid, pid), timeout=30)
        assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204


@pytest.mark.parametrize(("policy", "message"), [
    ({"Name": "always", "MaximumRetryCount": 2},
     "invalid restart policy: maximum retry count can only be used with 'on-failure'"),
    ({"Name": "no", "MaximumRetryCount": -1},
     "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative"),
    ({"Name": "on-failure", "MaximumRetryCount": -2}, "invalid restart policy: maximum retry count cannot be negative"),
    ({"Name": "sometimes"}, "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', "
                            "'on-failure', or 'unless-stopped'"),
])
def test_bad_policies_are_refused_and_nothing_is_made(api: httpx.Client, policy: dict, message: str) -> None:
    before = len(api.get("/containers/json", params={"all": 1}).json())
    r = api.post("/containers/create", json={"Image": "busybox", "HostConfig": {"RestartPolicy": policy}})
    assert r.status_code == 400 and r.json()["message"] == message
    assert len(api.get("/containers/json", params={"all": 1}).json()) == before


def test_auto_remove_with_a_policy_is_refused(api: httpx.Client) -> None:
    r = api.post("/containers/create", json={"Image": "busybox",
                                             "HostConfig": {"AutoRemove": True, **_policy("always")}})
    assert r.status_code == 400 and r.json()["message"] == "can't create 'AutoRemove' container with restart policy"


def test_update_restart_policy(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"]})
    r = api.post(f"/containers/{cid}/update", json={"RestartPolicy": {"Name": "always", "MaximumRetryCount": 1}})
    assert r.status_code == 400 and "maximum retry count can only be used with 'on-failure'" in r.json()["message"]
    assert api.post(f"/containers/{cid}/update", json={"RestartPolicy": {"Name": "always"}}).status_code == 200
    pid = _state(api, cid)["State"]["Pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: _restarted(api, cid, pid))
    assert _state(api, cid)["HostConfig"]["RestartPolicy"]["Name"] == "always"
    assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204


def test_restart_endpoint_stops_with_stop_timeout_and_starts(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", "trap '' TERM; sleep 300 & wait"],
                              "StopTimeout": 1})
    pid = _state(api, cid)["State"]["Pid"]
    assert api.post(f"/containers/{cid}/restart").status_code == 204
    st = _state(api, cid)
    assert st["State"]["Running"] and st["State"]["Pid"] != pid and not alive(pid)
    assert st["Config"]["StopTimeout"] == 1
    assert "restart" in _events(api, cid)
    assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204
