"""Registries that want credentials: htpasswd basic auth on docker-registry itself, and
the bearer-token flow with a token service the tests run (tests/images/registry.py).
Credentials reach berthd as docker's X-Registry-Auth, from the docker CLI, the SDK,
the API, or berth's own CLI (a docker-compatible config.json)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile

import bcrypt
import docker
import pytest

from tests.images import oci
from tests.images.conftest import berth, pull_lines, unique_image
from tests.images.registry import Proxy, Registry


def x_registry_auth(**fields: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode()


@pytest.fixture(scope="module")
def locked():
    """docker-registry with htpasswd: alice / s3cret."""
    d = tempfile.mkdtemp(prefix="berth-htpasswd-")
    path = os.path.join(d, "htpasswd")
    with open(path, "w") as f:
        f.write("alice:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=5)).decode() + "\n")
    reg = Registry(htpasswd=path)
    reg.start()
    try:
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(d, ignore_errors=True)


def _push_locked(layout: oci.Layout, reg: Registry, name: str) -> str:
    desc = layout.image([oci.Layer(oci.tar_bytes(oci.busybox_entries(f"{name} behind a password")))],
                        ["cat", "/hello.txt"])
    layout.tag(desc, name)
    subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret",
                    f"oci:{layout.path}:{name}", f"docker://{reg.host}/{name}:v1"], check=True, capture_output=True)
    return f"{reg.host}/{name}:v1"


def test_basic_auth_without_credentials(engine, locked, layout):
    ref = _push_locked(layout, locked, "nocreds")
    r = berth(engine, "pull", ref)
    assert r.returncode == 1
    assert r.stderr == (f'Error response from daemon: Get "http://{locked.host}/v2/nocreds/manifests/v1": '
                        "no basic auth credentials\n")


def test_basic_auth_with_wrong_and_right_credentials(api, locked, layout):
    ref = _push_locked(layout, locked, "apicreds")
    repo = ref.rsplit(":", 1)[0]
    r = api.post("/images/create", params={"fromImage": repo, "tag": "v1"},
                 headers={"X-Registry-Auth": x_registry_auth(username="alice", password="wrong",
                                                             serveraddress=locked.host)})
    assert r.status_code == 500
    assert r.json()["message"] == "unauthorized: authentication required"
    r = api.post("/images/create", params={"fromImage": repo, "tag": "v1"},
                 headers={"X-Registry-Auth": x_registry_auth(username="alice", password="s3cret",
                                                             serveraddress=locked.host)})
    assert r.status_code == 200
    assert r.text.rstrip().splitlines()[-1] == json.dumps({"status": f"Status: Downloaded newer image for {ref}"},
                                                          separators=(",", ":"))


def test_auth_config_keys_in_any_case(api, locked, layout):
    """Go's JSON matches a field's name in any case: an AuthConfig with "Username" and
    "Password" (as some clients write them) is a login to dockerd, and to berthd."""
    ref = _push_locked(layout, locked, "apicase")
    r = api.post("/images/create", params={"fromImage": ref.rsplit(":", 1)[0], "tag": "v1"},
                 headers={"X-Registry-Auth": x_registry_auth(Username="alice", Password="s3cret",
                                                             ServerAddress=locked.host)})
    assert r.status_code == 200, r.text
    assert "Downloaded newer image" in r.text.rstrip().splitlines()[-1]


def test_docker_cli_sends_its_login(engine, locked, layout):
    ref = _push_locked(layout, locked, "dockerlogin")
    cfg = os.path.join(engine.root, "docker-cli")
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(cfg, "config.json"), "w") as f:
        json.dump({"auths": {locked.host: {"auth": base64.b64encode(b"alice:s3cret").decode()}}}, f)
    try:
        r = engine.docker("pull", ref, timeout=300)
        assert r.returncode == 0, r.stderr
        r = engine.docker("run", "--rm", ref)
        assert r.stdout == "dockerlogin behind a password"
    finally:
        os.unlink(os.path.join(cfg, "config.json"))


def test_docker_sdk_auth_config(engine, locked, layout):
    ref = _push_locked(layout, locked, "sdkcreds")
    client = docker.DockerClient(base_url=engine.host)
    try:
        repo, tag = ref.rsplit(":", 1)
        with pytest.raises(docker.errors.APIError, match="authentication required"):
            client.images.pull(repo, tag=tag, auth_config={"username": "alice", "password": "nope"})
        image = client.images.pull(repo, tag=tag, auth_config={"username": "alice", "password": "s3cret"})
        assert ref in image.tags
    finally:
        client.close()


def test_berth_cli_reads_a_docker_style_config(engine, locked, layout, tmp_path):
    ref = _push_locked(layout, locked, "berthcreds")
    (tmp_path / "config.json").write_text(json.dumps(
        {"auths": {locked.host: {"auth": base64.b64encode(b"alice:s3cret").decode()}}}))
    r = subprocess.run([os.path.join(os.path.dirname(__file__), "..", "..", ".venv", "bin", "berth"),
                        "-H", engine.host, "pull", ref], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "DOCKER_CONFIG": str(tmp_path)})
    assert r.returncode == 0, r.stderr


@pytest.fixture
def token_proxy(registry):
    with Proxy(registry.host, bearer=True) as p:
        yield p


def test_anonymous_bearer_token_flow(engine, registry, token_proxy, layout):
    ref, _ = unique_image(layout, registry.host, "bearer")
    via = ref.replace(registry.host, token_proxy.host)
    r = berth(engine, "run", "--rm", via)
    assert r.returncode == 0, r.stderr
    repo = ref.split("/", 1)[1].split(":")[0]
    assert token_proxy.token_requests, "no token was asked for"
    first = token_proxy.token_requests[0]
    assert first["service"] == "berth-test" and first["scope"] == f"repository:{repo}:pull"
    assert first["authorization"] == ""  # anonymous
    assert len(token_proxy.token_requests) == 1  # one token for the whole pull, layers in parallel included


def test_bearer_token_with_a_password_and_with_an_identity_token(api, registry, token_proxy, layout):
    token_proxy.users = {"bob": "hunter2"}
    token_proxy.refresh_tokens = {"refresh-me"}
    ref, _ = unique_image(layout, registry.host, "bearercreds")
    via = ref.replace(registry.host, token_proxy.host)
    status, msgs = pull_lines(api, via)
    assert status == 500 and "incorrect username or password" in msgs[0]["message"]
    r = api.post("/images/create", params={"fromImage": via.rsplit(":", 1)[0], "tag": "v1"},
                 headers={"X-Registry-Auth": x_registry_auth(username="bob", password="hunter2")})
    assert r.status_code == 200 and "Downloaded newer image" in r.text
    assert token_proxy.token_requests[-1]["authorization"].startswith("Basic ")
    api.delete(f"/images/{via}")
    ref2, _ = unique_image(layout, registry.host, "bearerid")
    via2 = ref2.replace(registry.host, token_proxy.host)
    r = api.post("/images/create", params={"fromImage": via2.rsplit(":", 1)[0], "tag": "v1"},
                 headers={"X-Registry-Auth": x_registry_auth(identitytoken="refresh-me")})
    assert r.status_code == 200 and "Downloaded newer image" in r.text, r.text
    assert token_proxy.token_requests[-1]["grant_type"] == "refresh_token"
