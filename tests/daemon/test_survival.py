"""Containers outlive their daemons: kill -9 berthd (and berth-containerd), start berthd
again, and everything is still there, as it was or as it ended meanwhile."""

from __future__ import annotations

import os

import docker

from tests.daemon.conftest import Berthd, run_container, wait_until
from tests.host import alive
from tests.daemon.test_api import demux


def _ticker(api, name: str) -> str:  # type: ignore[no-untyped-def]
    return run_container(api, {"Image": "busybox", "Cmd": [
        "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]}, name=name)


def _survives(berthd: Berthd, containerd: bool) -> None:
    tag = "both" if containerd else "ctrd"
    with berthd.client() as api:
        long = _ticker(api, f"surv-long-{tag}")
        short = run_container(api, {"Image": "busybox", "Cmd": [
            "sh", "-c", "sleep 1; echo leaving; exit 7"]}, name=f"surv-short-{tag}")
        before = {cid: api.get(f"/containers/{cid}/json").json()["State"] for cid in (long, short)}
        log_lines = len(api.get(f"/containers/{long}/logs", params={"stdout": 1}).content)

    if containerd:
        berthd.kill9(containerd=True)
        # Down long enough for the short one to finish and the long one to write more.
        assert wait_until(lambda: not alive(before[short]["Pid"]))
        assert alive(before[long]["Pid"])
        berthd.start()
    else:
        old = berthd.containerd_pid()
        os.kill(old, 9)
        assert wait_until(lambda: not alive(before[short]["Pid"]))
        # berthd notices and starts a new managed containerd.
        assert wait_until(lambda: berthd.containerd_pid() != old)

    with berthd.client() as api:
        after = api.get(f"/containers/{long}/json").json()["State"]
        assert after["Status"] == "running"
        assert after["Pid"] == before[long]["Pid"] and alive(after["Pid"])
        assert after["StartedAt"] == before[long]["StartedAt"]
        ended = wait_until(lambda: api.get(f"/containers/{short}/json").json()["State"]["Status"] == "exited")
        assert ended
        st = api.get(f"/containers/{short}/json").json()["State"]
        assert st["ExitCode"] == 7 and st["FinishedAt"] > st["StartedAt"]
        assert demux(api.get(f"/containers/{short}/logs", params={"stdout": 1}).content) == [(1, b"leaving\n")]
        ps = {c["Id"]: c["Status"] for c in api.get("/containers/json", params={"all": 1}).json()}
        assert ps[long].startswith("Up") and ps[short].startswith("Exited (7)")
        # Output written while the daemons were down is in the log.
        assert len(api.get(f"/containers/{long}/logs", params={"stdout": 1}).content) > log_lines
        assert api.post(f"/containers/{long}/stop", params={"t": 1}).status_code == 204
        assert not alive(before[long]["Pid"])
        assert api.delete(f"/containers/{long}").status_code == 204
        assert api.delete(f"/containers/{short}").status_code == 204


def test_containers_survive_kill_9_of_berthd_and_containerd(berthd: Berthd) -> None:
    _survives(berthd, containerd=True)


def test_containers_survive_kill_9_of_containerd_alone(berthd: Berthd) -> None:
    _survives(berthd, containerd=False)


def test_a_restarted_berthd_reuses_the_running_containerd(berthd: Berthd) -> None:
    ctrd = berthd.containerd_pid()
    with berthd.client() as api:
        cid = _ticker(api, "surv-reuse")
    berthd.kill9(containerd=False)
    berthd.start()
    assert berthd.containerd_pid() == ctrd and alive(ctrd)
    with berthd.client() as api:
        assert api.get(f"/containers/{cid}/json").json()["State"]["Running"]
        assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204
        assert api.get(f"/containers/{cid}/json").status_code == 404


def test_a_container_reading_stdin_outlives_berthd_and_still_gets_typed_input(berthd: Berthd) -> None:
    # `docker run -d -i`: OpenStdin without StdinOnce, so berthd's death must not be its EOF.
    with berthd.client() as api:
        cid = run_container(api, {"Image": "busybox", "OpenStdin": True,
                                  "Cmd": ["sh", "-c", "cat; echo got-eof; exit 4"]}, name="surv-stdin")
        pid = api.get(f"/containers/{cid}/json").json()["State"]["Pid"]
    berthd.kill9(containerd=False)
    assert alive(pid)
    berthd.start()

    sdk = docker.DockerClient(base_url=berthd.host, version="1.45")
    try:
        c = sdk.containers.get(cid)
        assert c.status == "running" and c.attrs["State"]["Pid"] == pid
        sock = c.attach_socket(params={"stdin": 1, "stream": 1})
        sock._sock.sendall(b"typed after the restart\n")
        assert wait_until(lambda: b"typed after the restart\n" in c.logs())
        sock.close()
        assert c.status == "running" and b"got-eof" not in c.logs()
    finally:
        sdk.api.remove_container(cid, force=True)
        sdk.close()
