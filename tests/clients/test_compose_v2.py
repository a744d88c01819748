"""Docker Compose v2 (`docker compose`, the Go plugin, compose_v2.py) against berthd: the
project of compose_project.py (web built from its Dockerfile, db from the local
registry with a named volume and a health check, web started once db is healthy), the
way a user drives it: up, ps, the published port, scale, logs, exec, restart, stop,
down -v, and nothing of the project left. Then the same story against a private Debian
dockerd: the same answers and the same `ps --format json` (State, Health, Service,
Publishers)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from tests import dockerd as dockerd_mod
from tests.clients import compose_v2
from tests.clients.compose_project import Project, get, make
from tests.daemon.conftest import Berthd, wait_until
from tests.images.registry import Registry
from tests.network.conftest import host_state

# dockerd's pool for the project's network (test_compose_project.py's is 10.250/16)
DOCKER_POOL = "10.251.0.0/16"


@pytest.fixture(scope="module")
def compose() -> str:
    return compose_v2.binary()


@pytest.fixture(scope="module")
def base(berthd: Berthd, registry: Registry) -> Iterator[str]:
    """busybox pushed to the local registry, its tag then removed from berthd: `up` pulls it."""
    ref = f"{registry.host}/compose2/busybox:{uuid.uuid4().hex[:6]}"
    repo, tag = ref.rsplit(":", 1)
    with berthd.client() as api:
        assert api.post("/images/busybox/tag", params={"repo": repo, "tag": tag}).status_code == 201
        r = api.post(f"/images/{ref}/push", headers={"X-Registry-Auth": "e30="})
        assert r.status_code == 200 and '"error"' not in r.text, r.text
        assert api.delete(f"/images/{ref}").status_code == 200
    yield ref
    with berthd.client() as api:  # what `up` pulled: the package's other tests see busybox as before
        for image in api.get("/images/json", params={"digests": 1}).json():
            for name in (image.get("RepoTags") or []) + (image.get("RepoDigests") or []):
                if name.startswith((repo + ":", repo + "@")):
                    api.delete(f"/images/{name}")


@dataclass
class V2:
    """The project of compose_project.py, driven by `docker compose` (names with `-`)."""
    p: Project

    def __call__(self, *args: str, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess:
        r = subprocess.run(["docker", "compose", "--ansi", "never", "-p", self.p.name, *args], cwd=self.p.dir,
                           env=self.p.env, capture_output=True, text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, f"docker compose {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def inspect(self, service: str, index: int = 1) -> dict:
        with self.p.api() as api:
            return api.get(f"/containers/{self.p.name}-{service}-{index}/json").json()

    def port(self, service: str, index: int = 1) -> int:
        return int(self("port", "--index", str(index), service, "80").stdout.strip().rsplit(":", 1)[1])

    def images(self) -> list[str]:
        with self.p.api() as api:
            return [t.replace(self.p.name, "P") for i in api.get("/images/json").json()
                    for t in i.get("RepoTags") or [] if t.startswith(self.p.name)]

    def events(self, r: subprocess.CompletedProcess) -> list[str]:
        """compose's progress lines (` Container P-db-1  Started`), spaces squeezed."""
        return [" ".join(line.split()).replace(self.p.name, "P") for line in r.stderr.splitlines()
                if line.startswith(" ")]

    def ps_json(self, *args: str) -> list[dict]:
        """`ps --format json` (one object a line): what tells the services' state, host ports
        replaced by whether there is one (they differ from run to run)."""
        rows = [json.loads(line) for line in self("ps", "--format", "json", *args).stdout.splitlines() if line]
        return sorted(({"Name": r["Name"].replace(self.p.name, "P"), "Service": r["Service"], "State": r["State"],
                        "Health": r["Health"], "ExitCode": r["ExitCode"],
                        "Publishers": [{**pub, "PublishedPort": bool(pub["PublishedPort"])}
                                       for pub in r["Publishers"]]} for r in rows), key=lambda r: r["Name"])


@dataclass
class Seen:
    steps: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def story(c: V2, host_state: Callable[[], object] | None = None) -> Seen:
    seen = Seen()
    s = seen.steps
    before = host_state() if host_state else None
    t = time.monotonic()
    up = c("up", "-d")
    seen.timings["up -d"] = time.monotonic() - t
    events = c.events(up)
    s["up pulled db's image"] = "db Pulled" in events
    s["up built web"] = "Service web Built" in events and "Successfully tagged P-web:latest" in up.stdout.replace(
        c.p.name, "P")
    s["web started once db was healthy"] = events.index("Container P-db-1 Healthy") < events.index(
        "Container P-web-1 Starting")
    s["db healthy, web running"] = (c.inspect("db")["State"]["Health"]["Status"], c.inspect("web")["State"]["Status"])
    s["web answers"] = wait_until(lambda: get(c.port("web")), timeout=30)
    s["ps after up"] = c.ps_json()

    # up again, unchanged, then scaled: db is the same container (compose v2 recreates a
    # service whose container differs from its config: labels, image, networks, volumes)
    db = c.inspect("db")["Id"]
    s["up again"] = [e for e in c.events(c("up", "-d")) if not e.endswith(("Waiting", "Healthy"))]
    scale = c.events(c("up", "-d", "--scale", "web=3"))
    s["scale"] = sorted(e for e in scale if e.startswith("Container P-web-") and e.endswith("Created")
                        or "Recreate" in e)
    s["db kept by scale"] = c.inspect("db")["Id"] == db
    s["three webs answer"] = sorted(wait_until(lambda i=i: get(c.port("web", i)), timeout=30) for i in (1, 2, 3))
    s["ps after scale"] = c.ps_json()

    logs = c("logs", "--no-color")
    s["logs"] = sorted({re.sub(r"^(\S+)\s+\| ", r"\1 | ", line) for line in logs.stdout.splitlines()
                        if "still ready" not in line})  # said 2 s later: there or not yet
    s["logs db"] = c("logs", "--no-color", "db").stdout.split("|")[-1].strip()

    s["exec db"] = c("exec", "-T", "db", "cat", "/data/boots").stdout
    s["exec exit code"] = c("exec", "-T", "web", "sh", "-c", "exit 3", check=False).returncode
    s["exec --index 3"] = c("exec", "-T", "--index", "3", "web", "cat", "/www/db").stdout

    # restart db: the same container, a new process, healthy again (its volume counts the boots)
    pid = c.inspect("db")["State"]["Pid"]
    s["restart"] = c.events(c("restart", "-t", "1", "db"))
    again = c.inspect("db")
    s["restarted db is the same container, a new process"] = again["Id"] == db and again["State"]["Pid"] != pid
    s["db healthy again"] = bool(wait_until(lambda: c.inspect("db")["State"]["Health"]["Status"] == "healthy",
                                            timeout=30))
    s["db boots after restart"] = c("exec", "-T", "db", "cat", "/data/boots").stdout
    s["web still answers"] = get(c.port("web"))

    s["stop"] = sorted(e for e in c.events(c("stop", "-t", "1")) if e.endswith("Stopped"))
    s["ps -a after stop"] = c.ps_json("-a")

    t = time.monotonic()
    down = c("down", "-v", "-t", "1")
    seen.timings["down -v"] = time.monotonic() - t
    s["down -v"] = sorted(e for e in c.events(down) if e.endswith("Removed"))
    s["left after down -v"] = {"containers": c.p.containers(), "networks": c.p.networks(),
                               "volumes": c.p.volumes(), "images": c.images()}
    # the image compose built stays (even `down --rmi local` keeps it: compose v2 finds
    # the images to remove by its project label, which its classic builder does not set)
    s["rmi"] = subprocess.run(["docker", "rmi", f"{c.p.name}-web"], env=c.p.env, capture_output=True,
                              text=True).stdout.replace(c.p.name, "P").splitlines()[:1]
    s["images left"] = c.images()
    if host_state is not None:
        s["host after down -v is as before"] = bool(wait_until(lambda: host_state() == before))
    return seen


@pytest.fixture(scope="module")
def berth_seen(berthd: Berthd, base: str, compose: str) -> Iterator[Seen]:
    cfg = tempfile.mkdtemp(prefix="berth-compose-v2-cli-")
    p = make(compose_v2.plugin_env(berthd.env, compose, cfg), base, f"v{uuid.uuid4().hex[:6]}")
    try:
        yield story(V2(p), lambda: host_state(berthd))
    finally:
        V2(p)("down", "-v", "-t", "1", check=False)
        subprocess.run(["docker", "rmi", f"{p.name}-web"], env=p.env, capture_output=True)
        shutil.rmtree(p.dir, ignore_errors=True)
        shutil.rmtree(cfg, ignore_errors=True)


def test_compose_v2_project_story_on_berth(berth_seen: Seen) -> None:
    s = berth_seen.steps
    assert s["up pulled db's image"] and s["up built web"]
    assert s["web started once db was healthy"]
    assert s["db healthy, web running"] == ("healthy", "running")
    assert s["web answers"] == "web boots=1\n"
    web = {"URL": "0.0.0.0", "TargetPort": 80, "PublishedPort": True, "Protocol": "tcp"}
    assert s["ps after up"] == [
        {"Name": "P-db-1", "Service": "db", "State": "running", "Health": "healthy", "ExitCode": 0, "Publishers": []},
        {"Name": "P-web-1", "Service": "web", "State": "running", "Health": "", "ExitCode": 0, "Publishers": [web]}]
    # nothing changed: nothing recreated, by `up` or by `up --scale`
    assert s["up again"] == ["Container P-db-1 Running", "Container P-web-1 Running"]
    assert s["scale"] == ["Container P-web-2 Created", "Container P-web-3 Created"]
    assert s["db kept by scale"]
    assert s["three webs answer"] == ["web boots=1\n"] * 3
    assert [(r["Name"], r["State"]) for r in s["ps after scale"]] == [  # type: ignore[attr-defined]
        ("P-db-1", "running"), ("P-web-1", "running"), ("P-web-2", "running"), ("P-web-3", "running")]
    assert s["logs"] == ["db-1 | db up 1", "web-1 | web ready", "web-2 | web ready", "web-3 | web ready"]
    assert s["logs db"] == "db up 1"
    assert s["exec db"] == "1\n" and s["exec exit code"] == 3 and s["exec --index 3"] == "boots=1\n"
    assert s["restart"] == ["Container P-db-1 Restarting", "Container P-db-1 Started"]
    assert s["restarted db is the same container, a new process"] and s["db healthy again"]
    assert s["db boots after restart"] == "2\n" and s["web still answers"] == "web boots=1\n"
    assert s["stop"] == [f"Container P-{n} Stopped" for n in ("db-1", "web-1", "web-2", "web-3")]
    # stopped: no ports (dockerd's port map is a running container's); httpd as PID 1
    # ignores SIGTERM, so -t 1 ends with SIGKILL
    assert s["ps -a after stop"] == [{"Name": f"P-{n}", "Service": n[:-2], "State": "exited", "Health": "",
                                      "ExitCode": 137, "Publishers": []} for n in ("db-1", "web-1", "web-2", "web-3")]
    assert s["down -v"] == ["Container P-db-1 Removed", "Container P-web-1 Removed", "Container P-web-2 Removed",
                            "Container P-web-3 Removed", "Network P_backend Removed", "Volume P_data Removed"]
    assert s["left after down -v"] == {"containers": [], "networks": [], "volumes": [], "images": ["P-web:latest"]}
    assert s["rmi"] == ["Untagged: P-web:latest"] and s["images left"] == []
    assert s["host after down -v is as before"]


@pytest.fixture(scope="module")
def dockerd() -> Iterator[dockerd_mod.Dockerd]:
    """Debian's dockerd 20.10, private (tests/dockerd.py); the project's network is a bridge
    it makes from DOCKER_POOL (removed by `down`), its ports go through docker-proxy."""
    d = dockerd_mod.start(["--default-address-pool", f"base={DOCKER_POOL},size=24"])
    try:
        yield d
    finally:
        dockerd_mod.stop(d)


def test_the_same_project_on_docker_shows_the_same(dockerd: dockerd_mod.Dockerd, berth_seen: Seen, base: str,
                                                   compose: str) -> None:
    cfg = tempfile.mkdtemp(prefix="berth-compose-v2-cli-")
    p = make(compose_v2.plugin_env(dockerd.env, compose, cfg), base, f"w{uuid.uuid4().hex[:6]}")
    try:
        seen = story(V2(p))
    finally:
        V2(p)("down", "-v", "-t", "1", check=False)
        subprocess.run(["docker", "rmi", f"{p.name}-web"], env=p.env, capture_output=True)
        shutil.rmtree(p.dir, ignore_errors=True)
        shutil.rmtree(cfg, ignore_errors=True)
    mine, theirs = dict(berth_seen.steps), dict(seen.steps)
    mine.pop("host after down -v is as before")
    for step in ("ps after up", "ps after scale"):  # dockerd also publishes on IPv6, berth does not (yet)
        for row in theirs[step]:  # type: ignore[attr-defined]
            row["Publishers"] = [pub for pub in row["Publishers"] if pub["URL"] != "::"]
    assert {k: v for k, v in mine.items() if theirs.get(k) != v} == {}
    assert set(theirs) == set(mine)
    print("\ndocker compose v2 seconds (berth, docker):",
          {k: (round(berth_seen.timings[k], 2), round(v, 2)) for k, v in seen.timings.items()})
