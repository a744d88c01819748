"""A build whose FROM is on a registry that wants credentials: the docker CLI sends its
config.json's logins as X-Registry-Config, and berthd pulls with the one for that
registry (tests/images' htpasswd registry: alice / s3cret)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid

from tests.build.conftest import write_tree


def _docker(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=300, input=stdin)


def test_docker_build_from_a_private_registry_after_docker_login(engine, api, locked, ctx, tmp_path):
    env = {**engine.env, "DOCKER_BUILDKIT": "0", "DOCKER_CONFIG": str(tmp_path / "cli")}
    base = f"{locked.host}/private-{uuid.uuid4().hex[:8]}:v1"
    assert _docker(env, "tag", "busybox", base).returncode == 0
    r = _docker(env, "push", base)
    assert r.returncode == 1 and "no basic auth credentials" in r.stderr, r.stderr
    r = _docker(env, "login", "-u", "alice", "--password-stdin", locked.host, stdin="s3cret\n")
    assert r.returncode == 0, r.stderr
    assert _docker(env, "push", base).returncode == 0
    assert _docker(env, "rmi", base).returncode == 0  # the build must pull it
    write_tree(ctx, {"Dockerfile": f"FROM {base}\nRUN echo built on a private base > /built\n"})
    tag = f"privbuild-{uuid.uuid4().hex[:8]}"
    r = _docker(env, "build", "-t", tag, ctx)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Status: Downloaded newer image for {base}" in r.stdout
    assert api.get(f"/images/{base}/json").status_code == 200
    assert _docker(env, "run", "--rm", tag, "cat", "/built").stdout == "built on a private base\n"
    # without the login, the same pull is refused
    assert _docker(env, "rmi", base).returncode == 0
    os.unlink(tmp_path / "cli" / "config.json")
    r = _docker(env, "build", "--no-cache", ctx)
    assert r.returncode == 1 and "no basic auth credentials" in r.stderr, r.stdout + r.stderr
    # the header as the API takes it: the right key, or the host with a scheme, and a wrong password
    tar = subprocess.run(["tar", "-C", ctx, "-c", "."], capture_output=True, check=True).stdout
    for key, password, ok in ((locked.host, "s3cret", True), (f"http://{locked.host}/v2/", "s3cret", True),
                              (locked.host, "wrong", False), ("other.example:5000", "s3cret", False)):
        header = base64.urlsafe_b64encode(json.dumps({key: {"username": "alice", "password": password}}).encode())
        r = api.post("/build", params={"nocache": "1"}, content=tar, headers={
            "Content-Type": "application/x-tar", "X-Registry-Config": header.decode()})
        last = json.loads(r.text.splitlines()[-1])
        assert ("error" not in last) == ok, (key, password, last)
        api.delete(f"/images/{base}")
