"""testcontainers-python 4.x against berthd, as a user's test reads: a generic container
with an exposed port, a wait for its log line, its host and mapped port, reached; and
its compose module (DockerCompose, which runs Docker Compose v2: compose_v2.py) on a
project with a build, a health check and a named volume.

Three settings a user of this machine would make too:
- TESTCONTAINERS_RYUK_DISABLED=true: the "ryuk" reaper is an image on Docker Hub, which
  cannot be pulled here (no network); each test removes its containers itself.
- TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 and TESTCONTAINERS_CONNECTION_MODE=docker_host:
  this machine has /.dockerenv, so testcontainers believes it runs inside a container and
  would reach published ports through the default gateway (another machine) or the
  container's bridge gateway; the ports berthd publishes are on this host's 127.0.0.1."""

from __future__ import annotations

import pathlib
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from tests.clients import compose_v2
from tests.clients.compose_project import Project, make
from tests.daemon.conftest import Berthd, wait_until
from tests.network.conftest import host_state


@pytest.fixture
def testcontainers(berthd: Berthd, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment a user exports before running their tests."""
    monkeypatch.setenv("DOCKER_HOST", berthd.host)
    monkeypatch.setenv("DOCKER_CONFIG", berthd.env["DOCKER_CONFIG"])
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    monkeypatch.setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
    monkeypatch.setenv("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
    from testcontainers.core.config import ConnectionMode
    from testcontainers.core.config import testcontainers_config as config

    # the configuration reads these once: at import (host, mode) and at first use (ryuk)
    monkeypatch.setattr(config, "tc_host_override", "127.0.0.1")
    monkeypatch.setattr(config, "connection_mode_override", ConnectionMode.docker_host)
    monkeypatch.setattr(config, "_ryuk_disabled", None)
    assert config.ryuk_disabled is True
    before = host_state(berthd)
    yield
    assert wait_until(lambda: host_state(berthd) == before), (before, host_state(berthd))
    with berthd.client() as api:
        assert api.get("/containers/json", params={"all": 1}).json() == []


def _http_get(host: str, port: int, path: str) -> bytes:
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        data = bytearray()
        while chunk := s.recv(1 << 16):
            data += chunk
    return bytes(data)


def test_a_generic_container_with_an_exposed_port_and_a_log_wait(testcontainers: None) -> None:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    web = (DockerContainer("busybox")
           .with_command(["sh", "-c", "mkdir -p /www && echo hello from $WHO > /www/index.html"
                          " && echo server is ready && exec httpd -f -p 8080 -h /www"])
           .with_env("WHO", "testcontainers")
           .with_exposed_ports(8080)
           .waiting_for(LogMessageWaitStrategy("server is ready")))
    with web:
        host = web.get_container_host_ip()
        port = web.get_exposed_port(8080)
        assert host == "127.0.0.1" and port != 8080
        reply = _http_get(host, port, "/index.html")
        assert reply.startswith(b"HTTP/1.") and reply.endswith(b"\r\n\r\nhello from testcontainers\n")
        stdout, stderr = web.get_logs()
        assert stdout == b"server is ready\n" and stderr == b""
        assert web.exec(["cat", "/www/index.html"]).output == b"hello from testcontainers\n"
        assert web.status == "running"
        cid = web.get_container_id()
        assert web.get_docker_client().client.containers.get(cid).labels["org.testcontainers"] == "true"


def test_a_log_wait_that_never_comes_fails_when_the_container_exits(testcontainers: None) -> None:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    broken = (DockerContainer("busybox").with_command(["sh", "-c", "echo starting; exit 3"])
              .waiting_for(LogMessageWaitStrategy("never printed").with_startup_timeout(30)))
    with pytest.raises(RuntimeError, match="exited"), broken:
        pass


def test_two_containers_on_a_network_reach_each_other_by_alias(testcontainers: None) -> None:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.network import Network
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    with Network() as net:
        server = (DockerContainer("busybox")
                  .with_command(["sh", "-c", "echo up; exec httpd -f -p 80 -h /etc"])
                  .with_network(net).with_network_aliases("backend")
                  .waiting_for(LogMessageWaitStrategy("up")))
        with server, DockerContainer("busybox").with_command(["sleep", "300"]).with_network(net) as client:
            r = client.exec(["sh", "-c", "printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 backend 80"])
            assert r.exit_code == 0
            assert r.output.endswith(b"\r\n\r\n" + server.get_container_id()[:12].encode() + b"\n")


@pytest.fixture
def compose_project(testcontainers: None, berthd: Berthd, monkeypatch: pytest.MonkeyPatch,
                    tmp_path: pathlib.Path) -> Iterator[Project]:
    """The compose module runs `docker compose` (v2) with the environment the user
    exported: the plugin in their DOCKER_CONFIG, the classic builder (no BuildKit here),
    the project's name; the project is compose_project.py's (web built, db healthy first)."""
    env = compose_v2.plugin_env(berthd.env, compose_v2.binary(), str(tmp_path / "docker-cli"))
    name = f"tc{uuid.uuid4().hex[:6]}"
    for key in ("DOCKER_CONFIG", "DOCKER_BUILDKIT"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", name)
    p = make(env, "busybox", name)
    try:
        yield p
    finally:
        subprocess.run(["docker", "compose", "down", "-v", "-t", "1"], cwd=p.dir, env={**env, "COMPOSE_PROJECT_NAME": name},
                       capture_output=True)
        subprocess.run(["docker", "rmi", f"{name}-web"], env=env, capture_output=True)  # (what compose built)
        shutil.rmtree(p.dir, ignore_errors=True)


def test_the_compose_module_brings_a_project_up_and_down(compose_project: Project) -> None:
    from testcontainers.compose import DockerCompose
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    p = compose_project
    compose = DockerCompose(p.dir, build=True).waiting_for({"web": LogMessageWaitStrategy("web ready")})
    with compose:  # up --build --wait: db healthy, then web, then its log line
        host = compose.get_service_host("web", 80)
        port = compose.get_service_port("web", 80)
        assert host == "0.0.0.0" and port is not None and port != 80  # as compose v2 shows it on Docker
        reply = _http_get(host, port, "/index.html")
        assert reply.startswith(b"HTTP/1.") and reply.endswith(b"\r\n\r\nweb boots=1\n")
        stdout, _ = compose.get_logs("db")
        assert stdout.split("|")[-1].strip() == "db up 1"
        assert compose.exec_in_container(["cat", "/data/boots"], "db") == ("1\n", "", 0)
        running = {c.Service: (c.State, c.Health) for c in compose.get_containers()}
        assert running == {"db": ("running", "healthy"), "web": ("running", "")}
    # stop() (down --volumes): nothing of the project left; the fixture checks the host
    assert p.containers() == [] and p.networks() == [] and p.volumes() == []
