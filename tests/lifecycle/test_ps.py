"""ps as docker's: --filter (status, exited, label, name, id, ancestor, before, since,
health, network, volume), --format (templates and table), -n, -l; POST /containers/prune."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx

from tests.daemon.conftest import Berthd, run_container, wait_until

BERTH = os.path.join(os.path.dirname(sys.executable), "berth")
MS = 1_000_000


def _ids(api: httpx.Client, **filters: list[str]) -> set[str]:
    r = api.get("/containers/json", params={"all": 1, "filters": json.dumps(filters)})
    assert r.status_code == 200, r.text
    return {c["Id"] for c in r.json()}


def test_filters(api: httpx.Client) -> None:
    a = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", "exit 4"], "Labels": {"ps": "a"}}, name="ps-a")
    b = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"], "Labels": {"ps": "b"},
                            "Healthcheck": {"Test": ["CMD", "true"], "Interval": 100 * MS}}, name="ps-b")
    c = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"], "Labels": {"ps": "c"}}, name="ps-c")
    api.post(f"/containers/{a}/wait")
    assert wait_until(lambda: _ids(api, health=["healthy"]) == {b})
    ours = {a, b, c}
    assert _ids(api, label=["ps"]) == ours
    assert _ids(api, label=["ps=b"]) == {b}
    assert _ids(api, status=["exited"], label=["ps"]) == {a}
    assert _ids(api, exited=["4"]) & ours == {a}
    assert _ids(api, name=["^/ps-[bc]$"]) == {b, c}
    assert _ids(api, id=[b[:10]]) == {b}
    assert _ids(api, before=["ps-c"], label=["ps"]) == {a, b}
    assert _ids(api, since=["ps-a"], label=["ps"]) == {b, c}
    assert _ids(api, health=["none"], label=["ps"]) == {a, c}
    assert _ids(api, ancestor=["busybox"], label=["ps"]) == ours
    for bad, msg in (({"nope": ["1"]}, "invalid filter 'nope'"), ({"status": ["sleeping"]},
                     "invalid filter 'status=sleeping'"), ({"health": ["meh"]},
                     "Unrecognised filter value for health: meh")):
        r = api.get("/containers/json", params={"filters": json.dumps(bad)})
        assert r.status_code == 400 and r.json()["message"] == msg
    for cid in ours:
        assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204


def test_cli_format_last_latest(berthd: Berthd, api: httpx.Client) -> None:
    a = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"], "Labels": {"psf": "1"}}, name="psf-a")
    b = run_container(api, {"Image": "busybox", "Cmd": ["true"], "Labels": {"psf": "1"}}, name="psf-b")
    api.post(f"/containers/{b}/wait")
    for cli in ("docker", "berth"):
        cmd = ["docker"] if cli == "docker" else [BERTH, "-H", berthd.host]
        env = berthd.env

        def run(*args: str) -> str:
            r = subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=60)  # noqa: B023
            assert r.returncode == 0, r.stderr
            return r.stdout

        assert run("ps", "-a", "--filter", "label=psf", "--format", "{{.Names}} {{.State}}") == \
            "psf-b exited\npsf-a running\n"
        assert run("ps", "--filter", "label=psf", "--format", "{{.Names}}") == "psf-a\n"
        out = run("ps", "-a", "--filter", "label=psf", "--format", "table {{.ID}}\t{{.Names}}").splitlines()
        assert out[0].split() == ["CONTAINER", "ID", "NAMES"] and out[1].split() == [b[:12], "psf-b"]
        assert run("ps", "-l", "-q") == b[:12] + "\n"
        assert run("ps", "-n", "2", "-q", "--filter", "label=psf") == f"{b[:12]}\n{a[:12]}\n"
    for cid in (a, b):
        assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204


def test_prune(berthd: Berthd, api: httpx.Client) -> None:
    keep = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"], "Labels": {"pr": "1"}})
    done = run_container(api, {"Image": "busybox", "Cmd": ["true"], "Labels": {"pr": "1"}})
    other = run_container(api, {"Image": "busybox", "Cmd": ["true"], "Labels": {"pr": "2"}})
    for cid in (done, other):
        api.post(f"/containers/{cid}/wait")
    r = api.post("/containers/prune", params={"filters": json.dumps({"label": ["pr=1"]})})
    assert r.status_code == 200 and r.json()["ContainersDeleted"] == [done]
    assert api.get(f"/containers/{done}/json").status_code == 404
    assert api.get(f"/containers/{keep}/json").status_code == 200
    r = api.post("/containers/prune", params={"filters": json.dumps({"bogus": ["1"]})})
    assert r.status_code == 400 and r.json()["message"] == "invalid filter 'bogus'"
    out = berthd.docker("container", "prune", "-f", "--filter", "label=pr=2", check=True).stdout
    assert other in out
    assert api.delete(f"/containers/{keep}", params={"force": 1}).status_code == 204
