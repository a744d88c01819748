"""The playground (the repository's Dockerfile and docker-compose.yml): berthd in a
container, its socket on the host under ./run/, brought up by docker-compose against
berth itself (berth runs berth) and against Debian's Docker; then `berth -H
unix://$PWD/run/berth.sock run hello-world` from the host, and `down -v` leaves nothing.

The base image is made from Debian's package mirror by scripts/playground-base (about
a minute and a half): once, cached under /var/cache/berth-tests for later sessions."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator

import pytest
from tests import dockerd as dockerd_mod
from tests.daemon.conftest import Berthd, wait_until

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPOSE = "/usr/bin/docker-compose"
BERTH = os.path.join(os.path.dirname(sys.executable), "berth")
CACHE = "/var/cache/berth-tests"
BASE_TAR = os.path.join(CACHE, "playground-base.tar")


@pytest.fixture(scope="module")
def base_tar() -> str:
    """The base image's tarball, made once per machine (under a lock: parallel sessions)."""
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, "playground-base.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(BASE_TAR):
            r = subprocess.run([os.path.join(REPO, "scripts", "playground-base"), BASE_TAR], capture_output=True,
                               text=True, timeout=1200)
            assert r.returncode == 0, r.stderr
    return BASE_TAR


@pytest.fixture
def checkout() -> Iterator[str]:
    """The repository as a user has it (its files, without .git and .venv): compose
    makes ./run there."""
    d = tempfile.mkdtemp(prefix="berth-playground-")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout
    subprocess.run(f"tar -c --null -T - | tar -x -C {d}", shell=True, cwd=REPO, input=files, check=True)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _import(env: dict[str, str], tar: str) -> None:
    r = subprocess.run(["docker", "import", tar, "berth-playground-base"], env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr


def _compose(env: dict[str, str], d: str, name: str, *args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([COMPOSE, "--ansi", "never", *args], cwd=d, capture_output=True, text=True, timeout=900,
                       env={**env, "COMPOSE_PROJECT_NAME": name})
    assert r.returncode == 0, f"docker-compose {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
    return r


def _cgroup_dirs(name: str) -> list[str]:
    top = "/sys/fs/cgroup"
    return [os.path.join(top, h, name) for h in os.listdir(top) if os.path.isdir(os.path.join(top, h, name))]


def _playground(env: dict[str, str], d: str, api_containers: object) -> dict[str, object]:
    """Up, hello-world through the published socket, down -v: what the user sees."""
    name = f"pg{uuid.uuid4().hex[:6]}"
    seen: dict[str, object] = {}
    try:
        up = _compose(env, d, name, "up", "-d", "--build")
        seen["up"] = f"Creating {name}_berthd_1" in up.stderr
        sock = os.path.join(d, "run", "berth.sock")
        inner = {**os.environ, "DOCKER_CONFIG": os.path.join(d, "run", "cli")}

        def answers() -> bool:
            return os.path.exists(sock) and subprocess.run([BERTH, "-H", f"unix://{sock}", "version"], env=inner,
                                                            capture_output=True).returncode == 0
        seen["inner berthd answers"] = wait_until(answers, timeout=120)
        if not seen["inner berthd answers"]:
            seen["inner log"] = subprocess.run([COMPOSE, "logs", "--no-color"], cwd=d, capture_output=True, text=True,
                                               env={**env, "COMPOSE_PROJECT_NAME": name}).stdout[-3000:]
            return seen
        hello = subprocess.run([BERTH, "-H", f"unix://{sock}", "run", "--rm", "hello-world"], env=inner,
                               capture_output=True, text=True, timeout=120)
        seen["hello-world"] = (hello.returncode, hello.stdout.splitlines()[1:2], hello.stderr[-2000:])
        busybox = subprocess.run([BERTH, "-H", f"unix://{sock}", "run", "--rm", "busybox", "sh", "-c",
                                  "grep -c berth-playground /proc/1/cgroup"],
                                 env=inner, capture_output=True, text=True, timeout=120)
        seen["inner container in the playground's cgroup"] = busybox.stdout.strip().splitlines()[-1:] != ["0"]
    finally:
        down = subprocess.run([COMPOSE, "--ansi", "never", "down", "-v", "-t", "10"], cwd=d, capture_output=True,
                              text=True, env={**env, "COMPOSE_PROJECT_NAME": name}, timeout=300)
        seen["down"] = down.returncode
    seen["containers left"] = api_containers(name)  # type: ignore[operator]
    seen["cgroups left"] = wait_until(lambda: not _cgroup_dirs("berth-playground"), timeout=30)
    return seen


def _containers_of(env: dict[str, str]):  # type: ignore[no-untyped-def]
    def of(project: str) -> list[str]:
        out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
                             env=env, capture_output=True, text=True).stdout
        return out.split()
    return of


def test_playground_on_berth(berthd: Berthd, base_tar: str, checkout: str) -> None:
    _import(berthd.env, base_tar)
    try:
        seen = _playground(berthd.env, checkout, _containers_of(berthd.env))
    finally:  # the package's berthd is shared: its other tests see its images as before
        berthd.docker("rmi", "-f", "berth-playground", "berth-playground-base")
    assert seen["up"] and seen["inner berthd answers"], seen
    assert seen["hello-world"][:2] == (0, ["Hello from berth!"]), seen
    assert seen["down"] == 0 and seen["containers left"] == [] and seen["cgroups left"], seen


def _bounding_set_lacks_caps() -> list[int]:
    """Capabilities the kernel knows that this machine's bounding set lacks: dockerd's
    --privileged asks for every capability it knows and fails then ("unable to apply
    caps"), berth-runc's keeps to the bounding set."""
    with open("/proc/self/status") as f:
        bnd = int(next(line for line in f if line.startswith("CapBnd:")).split()[1], 16)
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    return [c for c in range(last + 1) if not bnd & (1 << c)]


def test_playground_on_docker(base_tar: str, checkout: str) -> None:
    d = dockerd_mod.start()
    try:
        _import(d.env, base_tar)
        missing = _bounding_set_lacks_caps()
        if missing:
            # the image still builds under Docker's builder; no privileged container can start
            _compose(d.env, checkout, "pgbuild", "build")
            run = d.docker("run", "--rm", "--privileged", "berth-playground-base", "true")
            assert run.returncode != 0 and "unable to apply caps" in run.stderr, run.stderr
            pytest.skip(f"dockerd cannot start a privileged container here: capabilities {missing} are "
                        "outside this machine's bounding set")
        seen = _playground(d.env, checkout, _containers_of(d.env))
    finally:
        dockerd_mod.stop(d)
    assert seen["up"] and seen["inner berthd answers"], seen
    assert seen["hello-world"][:2] == (0, ["Hello from berth!"]), seen
    assert seen["down"] == 0 and seen["containers left"] == [] and seen["cgroups left"], seen
