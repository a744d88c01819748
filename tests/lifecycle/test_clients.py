"""The same through the real docker CLI, the docker SDK and berth's own CLI: --restart,
--health-*, --init, --group-add, --stop-*, --log-*, --label-file; their bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import docker
import pytest

from tests.daemon.conftest import Berthd, wait_until

BERTH = os.path.join(os.path.dirname(sys.executable), "berth")


def _berth(berthd: Berthd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BERTH, "-H", berthd.host, *args], capture_output=True, text=True, timeout=60)


def _inspect(berthd: Berthd, name: str) -> dict:
    return json.loads(berthd.docker("inspect", name, check=True).stdout)[0]


@pytest.mark.parametrize("cli", ["docker", "berth"])
def test_run_restart_and_health_flags(berthd: Berthd, cli: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = berthd.docker if cli == "docker" else (lambda *a, **k: _berth(berthd, *a))
    labels = tmp_path / "labels"
    labels.write_text("# a comment\n\nfrom.file=1\nboth=file\n")
    name = f"life-{cli}"
    r = run("run", "-d", "--name", name, "--restart", "always", "--health-cmd", "test -e /tmp/ok",
            "--health-interval", "200ms", "--health-retries", "2", "--init", "--stop-signal", "SIGUSR1",
            "--stop-timeout", "3", "--group-add", "nogroup", "--log-opt", "max-size=1m", "--log-opt", "max-file=2",
            "--label-file", str(labels), "--label", "both=flag", "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    st = _inspect(berthd, name)
    assert st["HostConfig"]["RestartPolicy"] == {"Name": "always", "MaximumRetryCount": 0}
    assert st["HostConfig"]["Init"] is True and st["HostConfig"]["GroupAdd"] == ["nogroup"]
    assert st["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "2"}}
    assert st["Config"]["StopSignal"] == "SIGUSR1" and st["Config"]["StopTimeout"] == 3
    hc = st["Config"]["Healthcheck"]
    assert (hc["Test"], hc["Interval"], hc["Retries"]) == (["CMD-SHELL", "test -e /tmp/ok"], 200_000_000, 2)
    assert st["Config"]["Labels"]["from.file"] == "1" and st["Config"]["Labels"]["both"] == "flag"
    assert wait_until(lambda: "(unhealthy)" in run("ps", "--no-trunc").stdout)
    assert run("exec", name, "touch", "/tmp/ok").returncode == 0
    assert wait_until(lambda: "(healthy)" in run("ps").stdout)
    pid = _inspect(berthd, name)["State"]["Pid"]
    os.kill(pid, signal.SIGKILL)
    def restarted() -> bool:  # one inspect: while restarting, Pid is 0 (not `pid`) too
        state = _inspect(berthd, name)["State"]
        return state["Status"] == "running" and state["Pid"] not in (0, pid)

    assert wait_until(restarted)
    assert _inspect(berthd, name)["RestartCount"] == 1
    assert run("restart", "-t", "1", name).returncode == 0
    assert _inspect(berthd, name)["RestartCount"] == 0
    assert run("rm", "-f", name).returncode == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--restart", "always:3"], "invalid restart policy: maximum retry count can only be used with 'on-failure'"),
    (["--restart", "sometimes"], "invalid restart policy: unknown policy 'sometimes'"),
    (["--restart", "on-failure:x"], "invalid restart policy format: maximum retry count must be an integer"),
    (["--rm", "--restart", "always"], "conflicting options: cannot specify both --restart and --rm"),
    (["--log-driver", "syslog"], "logger: no log driver named 'syslog' is registered"),
    (["--log-opt", "foo=1"], "unknown log opt 'foo' for json-file log driver"),
    (["--no-healthcheck", "--health-cmd", "true"], "--no-healthcheck conflicts with --health-* options"),
    (["--health-interval", "1x"], 'time: unknown unit "x" in duration "1x"'),
])
@pytest.mark.parametrize("cli", ["docker", "berth"])
def test_bad_input_is_refused_alike(berthd: Berthd, cli: str, args: list[str], message: str) -> None:
    run = berthd.docker if cli == "docker" else (lambda *a, **k: _berth(berthd, *a))
    before = berthd.docker("ps", "-aq").stdout
    r = run("run", "-d", *args, "busybox", "true")
    assert r.returncode == 125 and message in r.stderr, r.stderr
    assert berthd.docker("ps", "-aq").stdout == before


def test_sdk_restart_policy_health_and_runtime(berthd: Berthd) -> None:
    client = docker.DockerClient(base_url=berthd.host, version="1.45")
    try:
        c = client.containers.run("busybox", ["sh", "-c", "exit 2"], detach=True,
                                  restart_policy={"Name": "on-failure", "MaximumRetryCount": 2})
        assert wait_until(lambda: client.api.inspect_container(c.id)["RestartCount"] == 2
                          and client.api.inspect_container(c.id)["State"]["Status"] == "exited", timeout=30)
        c.remove()
        h = client.containers.run("busybox", ["sleep", "300"], detach=True, runtime="runc",
                                  healthcheck={"test": ["CMD", "true"], "interval": 200_000_000})
        assert wait_until(lambda: client.api.inspect_container(h.id)["State"]["Health"]["Status"] == "healthy")
        assert client.api.inspect_container(h.id)["HostConfig"]["Runtime"] == "runc"
        h.remove(force=True)
    finally:
        client.close()
