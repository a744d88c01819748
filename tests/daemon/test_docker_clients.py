"""The real docker CLI and the docker SDK for Python, pointed at berthd."""

from __future__ import annotations

import docker
import pytest
from tests.daemon.conftest import Berthd, wait_until


@pytest.fixture
def sdk(berthd: Berthd) -> docker.DockerClient:
    client = docker.DockerClient(base_url=berthd.host, version="1.45")
    yield client
    client.close()


def test_docker_version_shows_our_server(berthd: Berthd) -> None:
    out = berthd.docker("version", check=True).stdout
    assert "Server: berth" in out and "API version:      1.45" in out


def test_docker_images_lists_the_builtin_images(berthd: Berthd) -> None:
    out = berthd.docker("images", check=True).stdout
    assert "busybox" in out and "hello-world" in out


def test_docker_run_detached_ps_logs_stop_rm(berthd: Berthd) -> None:
    cid = berthd.docker("run", "-d", "--name", "cli-web", "busybox", "sh", "-c",
                        "echo started; exec sleep 1000", check=True).stdout.strip()
    assert len(cid) == 64
    ps = berthd.docker("ps", check=True).stdout
    assert "cli-web" in ps and "Up " in ps
    assert wait_until(lambda: berthd.docker("logs", "cli-web").stdout == "started\n")
    assert berthd.docker("stop", "-t", "1", "cli-web", check=True).stdout.strip() == "cli-web"
    ps = berthd.docker("ps", "-a", check=True).stdout
    assert "Exited (137)" in ps
    assert berthd.docker("rm", "cli-web", check=True).stdout.strip() == "cli-web"
    assert "cli-web" not in berthd.docker("ps", "-a", check=True).stdout


def test_docker_run_in_the_foreground_streams_output_and_exit_code(berthd: Berthd) -> None:
    r = berthd.docker("run", "--rm", "busybox", "sh", "-c", "echo to-out; echo to-err >&2; exit 5")
    assert r.returncode == 5
    assert r.stdout == "to-out\n" and r.stderr == "to-err\n"
    r = berthd.docker("run", "--rm", "hello-world")
    assert r.returncode == 0 and "Hello from berth!" in r.stdout
    assert "berth-containerd" in r.stdout
    assert berthd.docker("ps", "-aq", check=True).stdout.strip() == ""


def test_docker_run_of_a_missing_command_exits_127(berthd: Berthd) -> None:
    r = berthd.docker("run", "--rm", "busybox", "no-such-command")
    assert r.returncode == 127
    assert "executable file not found" in r.stderr
    assert wait_until(lambda: berthd.docker("ps", "-aq").stdout.strip() == "")


def test_docker_run_of_an_unknown_image_exits_125(berthd: Berthd) -> None:
    r = berthd.docker("run", "--rm", "no-such-image")
    assert r.returncode == 125
    assert "Unable to find image 'no-such-image:latest' locally" in r.stderr


def test_docker_name_conflict_and_unknown_container(berthd: Berthd) -> None:
    berthd.docker("create", "--name", "cli-dup", "busybox", check=True)
    r = berthd.docker("run", "-d", "--name", "cli-dup", "busybox")
    assert r.returncode == 125 and 'The container name "/cli-dup" is already in use' in r.stderr
    r = berthd.docker("rm", "no-such-container")
    assert r.returncode != 0 and "No such container: no-such-container" in r.stderr
    berthd.docker("rm", "cli-dup", check=True)


def test_docker_sdk_runs_waits_and_reads_logs(sdk: docker.DockerClient) -> None:
    out = sdk.containers.run("busybox", ["sh", "-c", "echo from-sdk"], remove=True)
    assert out == b"from-sdk\n"
    c = sdk.containers.run("busybox", ["sleep", "1000"], detach=True, name="sdk-sleeper")
    c.reload()
    assert c.status == "running" and c.name == "sdk-sleeper"
    assert [x.name for x in sdk.containers.list()] == ["sdk-sleeper"]
    c.kill()
    assert c.wait()["StatusCode"] == 137
    c.remove()
    assert {t for i in sdk.images.list() for t in i.tags} >= {"busybox:latest", "hello-world:latest"}
    with pytest.raises(docker.errors.NotFound):
        sdk.containers.get("sdk-sleeper")
