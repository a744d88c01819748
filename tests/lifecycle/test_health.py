"""Health checks as dockerd runs them: probes exec'd in the container, State.Health,
ps's (healthy)/(unhealthy), health_status events, timeouts killing the probe."""

from __future__ import annotations

import json
import time

import httpx

from tests.daemon.conftest import Berthd, run_container, wait_until

MS = 1_000_000


def _health(api: httpx.Client, cid: str) -> dict:
    return api.get(f"/containers/{cid}/json").json()["State"].get("Health") or {}


def _ps_status(api: httpx.Client, cid: str) -> str:
    return {c["Id"]: c["Status"] for c in api.get("/containers/json").json()}[cid]


def _events(api: httpx.Client, cid: str) -> list[str]:
    r = api.get("/events", params={"since": "0", "until": f"{time.time():.9f}",
                                   "filters": json.dumps({"container": [cid]})})
    return [json.loads(line)["Action"] for line in r.text.splitlines() if line.strip()]


def test_passing_check_turns_healthy(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"], "Healthcheck": {
        "Test": ["CMD-SHELL", "echo ok; id -u"], "Interval": 200 * MS, "Retries": 2}})
    assert _health(api, cid)["Status"] == "starting"
    assert "(health: starting)" in _ps_status(api, cid)
    assert wait_until(lambda: _health(api, cid).get("Status") == "healthy")
    h = _health(api, cid)
    assert h["FailingStreak"] == 0 and h["Log"][-1]["ExitCode"] == 0 and h["Log"][-1]["Output"] == "ok\n0\n"
    assert h["Log"][-1]["Start"] <= h["Log"][-1]["End"]
    assert _ps_status(api, cid).endswith("(healthy)")
    assert "health_status: healthy" in _events(api, cid)
    assert wait_until(lambda: len(_health(api, cid)["Log"]) == 5 and _health(api, cid)["Log"][0] != h["Log"][0])
    assert len(_health(api, cid)["Log"]) == 5  # the last five only
    assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204


def test_failing_check_turns_unhealthy_after_retries(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"], "Healthcheck": {
        "Test": ["CMD", "sh", "-c", "echo bad >&2; exit 3"], "Interval": 100 * MS, "Retries": 3}})
    assert wait_until(lambda: _health(api, cid).get("Status") == "unhealthy")
    h = _health(api, cid)
    assert h["FailingStreak"] >= 3 and h["Log"][-1]["ExitCode"] == 3 and h["Log"][-1]["Output"] == "bad\n"
    assert _ps_status(api, cid).endswith("(unhealthy)")
    assert "health_status: unhealthy" in _events(api, cid)
    r = api.get("/events", params={"since": "0", "until": f"{time.time():.9f}",
                                   "filters": json.dumps({"container": [cid], "event": ["health_status"]})})
    assert [json.loads(x)["Action"] for x in r.text.splitlines()] == ["health_status: unhealthy"]
    assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204


def test_timeout_kills_the_probe(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"], "Healthcheck": {
        "Test": ["CMD", "sleep", "100"], "Interval": 100 * MS, "Timeout": 300 * MS, "Retries": 1}})
    assert wait_until(lambda: _health(api, cid).get("Status") == "unhealthy")
    last = _health(api, cid)["Log"][-1]
    assert last["ExitCode"] == -1 and last["Output"] == "Health check exceeded timeout (300ms)"
    top = api.get(f"/containers/{cid}/top").json()["Processes"]
    assert wait_until(lambda: sum("sleep 100" in " ".join(p) for p in
                                  api.get(f"/containers/{cid}/top").json()["Processes"]) <= 1)
    assert top  # the container itself still runs
    assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204


def test_probes_stop_with_the_container_and_health_survives_berthd(berthd: Berthd) -> None:
    with berthd.client() as api:
        cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"], "Healthcheck": {
            "Test": ["CMD", "true"], "Interval": 500 * MS}})
        assert wait_until(lambda: _health(api, cid).get("Status") == "healthy")
        log_before = _health(api, cid)["Log"]
    berthd.kill9(containerd=False)
    berthd.start()
    with berthd.client() as api:
        h = _health(api, cid)
        # the record survived (as dockerd's: the monitor starts over, `starting`, the log kept)
        assert {x["Start"] for x in h["Log"]} & {x["Start"] for x in log_before}
        assert wait_until(lambda: _health(api, cid).get("Status") == "healthy")
        assert api.post(f"/containers/{cid}/stop", params={"t": 1}).status_code == 204
        after = _health(api, cid)["Log"]
        assert not wait_until(lambda: _health(api, cid)["Log"] != after, timeout=1)  # no probe once stopped
        assert api.delete(f"/containers/{cid}").status_code == 204


def test_image_healthcheck_and_no_healthcheck(api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"], "Healthcheck": {"Test": ["NONE"]}})
    st = api.get(f"/containers/{cid}/json").json()
    assert "Health" not in st["State"] and st["Config"]["Healthcheck"] == {"Test": ["NONE"]}
    assert _ps_status(api, cid).startswith("Up") and "health" not in _ps_status(api, cid)
    assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204


def test_bad_healthchecks_are_refused(api: httpx.Client) -> None:
    for hc, msg in (({"Test": ["CMD", "true"], "Interval": 10}, "Interval in Healthcheck cannot be less than 1ms"),
                    ({"Test": ["CMD", "true"], "Timeout": 5}, "Timeout in Healthcheck cannot be less than 1ms"),
                    ({"Test": ["CMD", "true"], "Retries": -1}, "Retries in Healthcheck cannot be negative"),
                    ({"Test": ["CMD", "true"], "StartPeriod": 1}, "StartPeriod in Healthcheck cannot be less than 1ms")):
        r = api.post("/containers/create", json={"Image": "busybox", "Healthcheck": hc})
        assert r.status_code == 400 and r.json()["message"] == msg
