"""POST /containers/{id}/kill as dockerd answers it: with SIGKILL, once the container has
stopped (so an inspect or a DELETE right after sees it stopped); with another signal,
at once, the container still running if it chose to ignore the signal."""

from __future__ import annotations

import subprocess

import httpx
from tests.daemon.conftest import Berthd, run_container
from tests.host import alive


def test_kill_answers_after_the_container_has_stopped(api: httpx.Client) -> None:
    for _ in range(10):
        cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "1000"]})
        pid = api.get(f"/containers/{cid}/json").json()["State"]["Pid"]
        assert api.post(f"/containers/{cid}/kill").status_code == 204
        state = api.get(f"/containers/{cid}/json").json()["State"]
        assert (state["Status"], state["Running"], state["ExitCode"]) == ("exited", False, 137)
        assert not alive(pid)
        r = api.delete(f"/containers/{cid}")
        assert r.status_code == 204, r.text


def test_kill_with_sigkill_by_name_or_number_waits_too(api: httpx.Client) -> None:
    for signal in ("SIGKILL", "KILL", "9", "kill"):
        cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "1000"]})
        assert api.post(f"/containers/{cid}/kill", params={"signal": signal}).status_code == 204
        assert api.delete(f"/containers/{cid}").status_code == 204, signal


def test_another_signal_is_only_sent(api: httpx.Client) -> None:
    # PID 1 ignores a signal it has no handler for: the kill must answer all the same.
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", "trap '' TERM USR1; sleep 1000 & wait"]})
    for signal in ("SIGTERM", "USR1", "15"):
        assert api.post(f"/containers/{cid}/kill", params={"signal": signal}).status_code == 204
        assert api.get(f"/containers/{cid}/json").json()["State"]["Running"] is True
    assert api.delete(f"/containers/{cid}").status_code == 409
    assert api.post(f"/containers/{cid}/kill").status_code == 204
    assert api.delete(f"/containers/{cid}").status_code == 204


def test_kill_of_a_stopped_or_missing_container(api: httpx.Client) -> None:
    cid = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["true"]}).json()["Id"]
    r = api.post(f"/containers/{cid}/kill")
    assert r.status_code == 409 and f"Container {cid} is not running" in r.json()["message"]
    assert api.post("/containers/nosuch/kill").status_code == 404
    r = api.post("/containers/nosuch/kill", params={"signal": "SIGNOPE"})  # dockerd checks the signal first
    assert r.status_code == 400 and r.json()["message"] == "Invalid signal: SIGNOPE"
    assert api.delete(f"/containers/{cid}").status_code == 204


def test_docker_kill_and_rm_back_to_back(berthd: Berthd) -> None:
    for i in range(10):
        name = f"kill-rm-{i}"
        berthd.docker("run", "-d", "--name", name, "busybox", "sleep", "1000", check=True)
        kill = berthd.docker("kill", name)
        assert kill.returncode == 0 and kill.stdout.strip() == name, kill.stderr
        rm = berthd.docker("rm", name)
        assert rm.returncode == 0 and rm.stdout.strip() == name, rm.stderr
    assert "kill-rm-" not in berthd.docker("ps", "-a", check=True).stdout


def test_docker_kill_and_rm_in_one_shell_line(berthd: Berthd) -> None:
    """`docker kill X && docker rm X`, as scripts write it."""
    for i in range(5):
        name = f"kill-rm-sh-{i}"
        berthd.docker("run", "-d", "--name", name, "busybox", "sleep", "1000", check=True)
        r = subprocess.run(["sh", "-c", f"docker kill {name} && docker rm {name}"], env=berthd.env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == [name, name]
