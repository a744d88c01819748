"""The docker-compose 1.29 project users write, run the same way against any engine (a
private berthd, a private dockerd): one service built from a Dockerfile in the project
dir, one from an image in the local registry with a named volume, a health check and
`restart: unless-stopped`, `depends_on: condition: service_healthy`. story() drives it
and returns what the user saw, so that the tests can assert on berth's and compare it
with Docker's."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from tests.daemon.conftest import wait_until

COMPOSE = "/usr/bin/docker-compose"  # Debian's, by path (see test_compose.py)

# db counts its starts in its named volume and turns healthy a moment after it serves
# (so that depends_on has something to wait for); web, built here, asks db once as it
# starts, and gives up if db does not answer: it only works if compose waited for healthy.
PROJECT = """\
services:
  db:
    image: {base}
    command:
      - sh
      - -c
      - >-
        n=$$(cat /data/boots 2>/dev/null || echo 0); n=$$((n + 1)); echo $$n > /data/boots;
        rm -f /data/ready; echo boots=$$n > /data/index.html; echo db up $$n;
        (sleep 1; touch /data/ready) &
        exec httpd -f -p 80 -h /data
    volumes: ["data:/data"]
    healthcheck:
      test: ["CMD", "test", "-f", "/data/ready"]
      interval: 1s
      timeout: 3s
      retries: 60
    restart: unless-stopped
    networks: [backend]
  web:
    build: ./web
    depends_on:
      db:
        condition: service_healthy
    networks: [backend]
    ports: ["80"]
volumes:
  data: {{}}
networks:
  backend: {{}}
"""

DOCKERFILE = """\
FROM {base}
COPY serve.sh /serve.sh
CMD ["sh", "/serve.sh"]
"""

SERVE = """\
mkdir -p /www
printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 db 80 | tail -1 > /www/db
test -s /www/db || {{ echo "web: db did not answer"; exit 1; }}
echo "web $(cat /www/db)" > /www/index.html
echo web ready
(sleep 2; echo web still ready) &
exec httpd -f -p 80 -h /www
"""


@dataclass
class Project:
    env: dict[str, str]          # DOCKER_HOST and DOCKER_CONFIG of the engine
    dir: str
    name: str
    base: str                    # the registry image both services come from

    def compose(self, *args: str, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess:
        env = {**self.env, "COMPOSE_PROJECT_NAME": self.name, "COMPOSE_INTERACTIVE_NO_CLI": "1"}
        r = subprocess.run([COMPOSE, "--ansi", "never", *args], cwd=self.dir, env=env, capture_output=True,
                           text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, f"docker-compose {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([COMPOSE, "--ansi", "never", *args], cwd=self.dir, text=True,
                                env={**self.env, "COMPOSE_PROJECT_NAME": self.name}, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)

    def api(self) -> httpx.Client:
        sock = self.env["DOCKER_HOST"].removeprefix("unix://")
        return httpx.Client(transport=httpx.HTTPTransport(uds=sock), base_url="http://engine", timeout=60)

    def containers(self) -> list[dict]:
        with self.api() as api:
            return api.get("/containers/json", params={"all": 1, "filters": '{"label": ["com.docker.compose.project='
                                                                             + self.name + '"]}'}).json()

    def inspect(self, service: str, index: int = 1) -> dict:
        with self.api() as api:
            return api.get(f"/containers/{self.name}_{service}_{index}/json").json()

    def port(self, service: str, index: int = 1) -> int:
        out = self.compose("port", "--index", str(index), service, "80").stdout.strip()
        return int(out.rsplit(":", 1)[1])

    def volumes(self) -> list[str]:
        with self.api() as api:
            return sorted(v["Name"] for v in api.get("/volumes").json()["Volumes"] or []
                          if v["Name"].startswith(self.name + "_"))

    def networks(self) -> list[str]:
        with self.api() as api:
            return sorted(n["Name"] for n in api.get("/networks").json() if n["Name"].startswith(self.name + "_"))


def make(env: dict[str, str], base: str, name: str) -> Project:
    d = tempfile.mkdtemp(prefix="berth-compose-")
    os.makedirs(os.path.join(d, "web"))
    for path, text in (("docker-compose.yml", PROJECT), ("web/Dockerfile", DOCKERFILE), ("web/serve.sh", SERVE)):
        with open(os.path.join(d, path), "w") as f:
            f.write(text.format(base=base))
    return Project(env, d, name, base)


def remove(p: Project) -> None:
    p.compose("down", "-v", "--rmi", "local", "--timeout", "1", check=False)
    shutil.rmtree(p.dir, ignore_errors=True)


def get(port: int) -> str:
    """The page a service serves on a published port, "" while it does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
            data = bytearray()
            while chunk := s.recv(1 << 16):
                data += chunk
    except OSError:
        return ""
    return bytes(data).split(b"\r\n\r\n", 1)[-1].decode()


def _ps(p: Project) -> list[list[str]]:
    """`docker-compose ps` as (name, state, ports) rows, the project name and host ports
    replaced (they differ from run to run and engine to engine). Its columns are 2+
    spaces apart; the truncated command is left out."""
    rows = []
    for line in p.compose("ps").stdout.splitlines()[2:]:
        cells = re.split(r"\s{2,}", line.strip())
        at = next(i for i, c in enumerate(cells) if i and re.match(r"(Up|Exit|Restarting|Paused)\b", c))
        ports = re.sub(r":\d+->", ":N->", " ".join(cells[at + 1:]))
        rows.append([cells[0].replace(p.name, "P"), cells[at], ports])
    return sorted(rows)


@dataclass
class Seen:
    """What the user saw, step by step (compared between engines)."""
    steps: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def story(p: Project, host_state: Callable[[], object] | None = None) -> Seen:
    seen = Seen()
    s = seen.steps
    before = host_state() if host_state else None
    t = time.monotonic()
    up = p.compose("up", "-d")
    seen.timings["up"] = time.monotonic() - t
    s["up pulled the registry image"] = f"Pulling db ({p.base})" in up.stderr
    s["up built web"] = "Building web" in up.stderr
    # service_healthy: web was created only once db had turned healthy
    s["db healthy before web started"] = (p.inspect("db")["State"]["Health"]["Status"] == "healthy"
                                          and p.inspect("web")["State"]["Running"])
    s["web answers"] = wait_until(lambda: get(p.port("web")), timeout=30)
    s["ps after up"] = _ps(p)
    s["images"] = sorted({c["Image"].replace(p.name, "P") for c in p.containers()})

    # logs -f follows the project, and the replicas `up --scale` adds
    follow = p.popen("logs", "-f", "--no-color")
    out: list[str] = []
    assert follow.stdout is not None
    reader = threading.Thread(target=lambda: out.extend(follow.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        p.compose("up", "-d", "--scale", "web=3")
        s["ps after scale"] = _ps(p)
        s["three webs answer"] = sorted(wait_until(lambda i=i: get(p.port("web", i)), timeout=30) for i in (1, 2, 3))
        # (no timed assertion: what it saw is asserted, this only waits for it to arrive)
        # a replica's first line can come before `logs -f` has attached to it (the attach
        # follows its start event): each says a second line 2 s later
        wait_until(lambda: all(any(re.match(rf"web_{i}\s*\| web", line) for line in out) for i in (1, 2, 3)),
                   timeout=30)
        p.compose("stop", "-t", "1")
        follow.wait(60)
        reader.join(10)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    first, rest = (out[0] if out else ""), "".join(out[1:])
    s["logs -f begins"] = first.startswith("Attaching to ")
    lines = {re.sub(r"^(\w+_\d+)\s*\| ", r"\1 | ", line) for line in (first + rest).splitlines()}
    s["logs -f saw db up"] = "db_1 | db up 1" in lines
    s["logs -f saw the replicas"] = sorted({m[1] for x in lines if (m := re.match(r"(web_\d) \| web", x))})
    s["logs -f ended with the project"] = follow.returncode
    p.compose("up", "-d", "--scale", "web=1")

    # restart: unless-stopped: the killed db process is started again by the engine
    db = p.inspect("db")
    os.kill(db["State"]["Pid"], signal.SIGKILL)
    again = wait_until(lambda: (i := p.inspect("db"))["State"]["Running"] and i["State"]["Pid"] != db["State"]["Pid"]
                       and i, timeout=30)
    s["killed db came back"] = bool(again) and again["RestartCount"] - db["RestartCount"]
    s["db boots after kill"] = p.compose("exec", "-T", "db", "cat", "/data/boots").stdout

    # the named volume outlives `down`, not `down -v`
    volumes = p.volumes()
    s["volumes"] = [v.replace(p.name, "P") for v in volumes]
    s["down"] = sorted(line.replace(p.name, "P") for line in p.compose("down", "-t", "1").stderr.splitlines()
                       if line.startswith(("Removing", "Stopping")) and "done" not in line)
    s["volume kept by down"] = p.volumes() == volumes
    p.compose("up", "-d")
    s["boots after down and up"] = p.compose("exec", "-T", "db", "cat", "/data/boots").stdout
    t = time.monotonic()
    down = p.compose("down", "-v", "-t", "1")
    seen.timings["down -v"] = time.monotonic() - t
    s["down -v removed the volume"] = f"Removing volume {p.name}_data" in down.stderr
    s["left after down -v"] = {"containers": p.containers(), "networks": p.networks(), "volumes": p.volumes()}
    if host_state is not None:
        s["host after down -v is as before"] = wait_until(lambda: host_state() == before)
    p.compose("up", "-d")
    s["boots after down -v and up"] = p.compose("exec", "-T", "db", "cat", "/data/boots").stdout
    p.compose("down", "-v", "-t", "1")
    return seen
