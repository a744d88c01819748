"""berth login/logout and POST /auth against real registries: Debian's docker-registry
with htpasswd basic auth, and the bearer flow through the tests' token service. The
credentials land in a docker-compatible config.json ($DOCKER_CONFIG), which berth's
pull and push, and the docker CLI, then use; credential helpers are run as docker runs
them. The docker CLI logs in through berthd too."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess

import docker
import pytest

from tests.images.conftest import BERTH, unique_image
from tests.images.registry import Proxy
from tests.images.test_auth import _push_locked, locked  # noqa: F401 - the htpasswd registry fixture

WARNING = ("\nWARNING! Your credentials are stored unencrypted in '{path}'.\n"
           "Configure a credential helper to remove this warning. See\n"
           "https://docs.docker.com/go/credential-store/\n\n")


def cli(engine, cfg_dir, *args: str, stdin: str = "", path: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCKER_CONFIG": str(cfg_dir)}
    if path:
        env["PATH"] = f"{path}:{env['PATH']}"
    return subprocess.run([BERTH, "-H", engine.host, *args], input=stdin, capture_output=True, text=True,
                          timeout=300, env=env)  # stdin: a pipe, never a terminal


def config(cfg_dir) -> dict:
    with open(os.path.join(cfg_dir, "config.json")) as f:
        return json.load(f)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_login_pull_logout(engine, locked, layout, tmp_path):  # noqa: F811
    ref = _push_locked(layout, locked, "loginpull")
    r = cli(engine, tmp_path, "pull", ref)
    assert r.returncode == 1 and "no basic auth credentials" in r.stderr
    r = cli(engine, tmp_path, "login", "-u", "alice", "--password-stdin", locked.host, stdin="s3cret\n")
    assert (r.returncode, r.stdout) == (0, "Login Succeeded\n"), r.stderr
    path = os.path.join(tmp_path, "config.json")
    assert r.stderr == WARNING.format(path=path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert config(tmp_path) == {"auths": {locked.host: {"auth": b64("alice:s3cret")}}}
    with open(path) as f:
        assert f.read().startswith('{\n\t"auths": {\n\t\t')  # docker's MarshalIndent with tabs
    again = cli(engine, tmp_path, "login", "-u", "alice", "--password-stdin", locked.host, stdin="s3cret\n")
    assert again.returncode == 0 and again.stderr == ""  # unchanged: not rewritten, no warning
    r = cli(engine, tmp_path, "pull", ref)
    assert r.returncode == 0, r.stderr
    r = cli(engine, tmp_path, "run", "--rm", ref)
    assert r.stdout == "loginpull behind a password"
    pushed = f"{locked.host}/loginpushed:v1"
    assert cli(engine, tmp_path, "tag", ref, pushed).returncode == 0
    r = cli(engine, tmp_path, "push", pushed)  # push sends the login too
    assert r.returncode == 0 and "v1: digest: sha256:" in r.stdout, r.stderr
    cli(engine, tmp_path, "rmi", pushed)
    r = cli(engine, tmp_path, "logout", locked.host)
    assert (r.returncode, r.stdout, r.stderr) == (0, f"Removing login credentials for {locked.host}\n", "")
    assert config(tmp_path) == {"auths": {}}
    cli(engine, tmp_path, "rmi", ref)
    r = cli(engine, tmp_path, "pull", ref)
    assert r.returncode == 1 and "no basic auth credentials" in r.stderr


def test_login_keeps_other_keys_and_uses_stored_credentials(engine, locked, tmp_path):  # noqa: F811
    (tmp_path / "config.json").write_text(json.dumps({"psFormat": "table {{.ID}}", "auths": {}}))
    r = cli(engine, tmp_path, "login", "-u", "alice", "-p", "s3cret", f"http://{locked.host}/")
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n\n")
    assert config(tmp_path) == {"psFormat": "table {{.ID}}", "auths": {locked.host: {"auth": b64("alice:s3cret")}}}
    r = cli(engine, tmp_path, "login", locked.host)  # no -u/-p: the stored credentials, checked again
    assert (r.returncode, r.stdout) == (0, "Login Succeeded\n"), r.stderr
    assert r.stderr.startswith("Authenticating with existing credentials... [Username: alice]\n")
    r = cli(engine, tmp_path, "logout", f"https://{locked.host}")
    assert r.stdout == f"Removing login credentials for {locked.host}\n"
    assert config(tmp_path)["auths"] == {}


def test_login_refusals(engine, locked, tmp_path):  # noqa: F811
    r = cli(engine, tmp_path, "login", "-u", "alice", "--password-stdin", locked.host, stdin="wrong\n")
    assert r.returncode == 1
    assert r.stderr == (f"Error response from daemon: login attempt to http://{locked.host}/v2/ failed with "
                        "status: 401 Unauthorized\n")
    assert not os.path.exists(os.path.join(tmp_path, "config.json"))
    r = cli(engine, tmp_path, "login", "-p", "x", "--password-stdin", locked.host, stdin="x")
    assert r.returncode == 1 and r.stderr.endswith(
        "conflicting options: cannot specify both --password and --password-stdin\n")
    r = cli(engine, tmp_path, "login", "--password-stdin", locked.host, stdin="x")
    assert (r.returncode, r.stderr) == (1, "the --password-stdin option requires --username to be set\n")
    r = cli(engine, tmp_path, "login", locked.host)
    assert (r.returncode, r.stderr) == (1, "Error: Cannot perform an interactive login from a non TTY device\n")
    r = cli(engine, tmp_path, "login", "-u", "a", "--password-stdin", "127.0.0.1:1", stdin="b")
    assert r.returncode == 1 and r.stderr.startswith('Error response from daemon: Get "http://127.0.0.1:1/v2/"')
    r = cli(engine, tmp_path, "logout", "never.example:5000")  # nothing stored: docker says the same and exits 0
    assert (r.returncode, r.stdout) == (0, "Removing login credentials for never.example:5000\n")


def test_auth_endpoint(api, locked):  # noqa: F811
    r = api.post("/auth", json={"username": "alice", "password": "s3cret", "serveraddress": locked.host})
    assert (r.status_code, r.json()) == (200, {"IdentityToken": "", "Status": "Login Succeeded"})
    r = api.post("/auth", json={"username": "alice", "password": "s3cret", "serveraddress": f"http://{locked.host}"})
    assert r.status_code == 200
    r = api.post("/auth", json={"username": "alice", "password": "nope", "serveraddress": locked.host})
    assert r.status_code == 401
    assert r.json() == {"message": f"login attempt to http://{locked.host}/v2/ failed with status: 401 Unauthorized"}
    r = api.post("/auth", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = api.post("/auth", json={"username": "a", "password": "b", "serveraddress": "127.0.0.1:1"})
    assert r.status_code == 500 and r.json()["message"].startswith('Get "http://127.0.0.1:1/v2/"')


def test_docker_sdk_login(engine, locked):  # noqa: F811
    client = docker.DockerClient(base_url=engine.host)
    try:
        with pytest.raises(docker.errors.APIError, match="401 Unauthorized"):
            client.login("alice", "bad", registry=locked.host, reauth=True)
        assert client.login("alice", "s3cret", registry=locked.host, reauth=True)["Status"] == "Login Succeeded"
    finally:
        client.close()


@pytest.fixture
def tokens(registry):
    with Proxy(registry.host, bearer=True, users={"bob": "hunter2"}, give_refresh_tokens=True) as p:
        yield p


def test_token_service_login_gives_an_identity_token(engine, api, registry, tokens, layout, tmp_path):
    r = api.post("/auth", json={"username": "bob", "password": "bad", "serveraddress": tokens.host})
    assert r.status_code == 401
    assert r.json()["message"] == f'Get "http://{tokens.host}/v2/": unauthorized: incorrect username or password'
    r = api.post("/auth", json={"username": "bob", "password": "hunter2", "serveraddress": tokens.host})
    assert r.status_code == 200, r.text
    assert r.json()["IdentityToken"].startswith("refresh-")
    asked = tokens.token_requests[-1]
    assert asked["offline_token"] == "true" and asked["authorization"].startswith("Basic ")
    r = cli(engine, tmp_path, "login", "-u", "bob", "--password-stdin", tokens.host, stdin="hunter2")
    assert r.returncode == 0, r.stderr
    entry = config(tmp_path)["auths"][tokens.host]
    assert entry["auth"] == b64("bob:") and entry["identitytoken"].startswith("refresh-")  # no password kept
    ref, _ = unique_image(layout, registry.host, "identity")
    via = ref.replace(registry.host, tokens.host)
    r = cli(engine, tmp_path, "pull", via)
    assert r.returncode == 0, r.stderr
    assert tokens.token_requests[-1]["grant_type"] == "refresh_token"
    assert tokens.token_requests[-1]["refresh_token"] == entry["identitytoken"]


def test_docker_cli_logs_in_through_berthd(engine, locked, layout, tmp_path):  # noqa: F811
    ref = _push_locked(layout, locked, "dockerclilogin")
    env = {**engine.env, "DOCKER_CONFIG": str(tmp_path)}

    def docker(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(["docker", *args], env=env, input=stdin, capture_output=True, text=True, timeout=300)

    r = docker("login", "-u", "alice", "--password-stdin", locked.host, stdin="wrong")
    assert r.returncode == 1
    assert (f"Error response from daemon: login attempt to http://{locked.host}/v2/ failed with status: "
            "401 Unauthorized") in r.stderr
    r = docker("login", "-u", "alice", "--password-stdin", locked.host, stdin="s3cret")
    assert (r.returncode, r.stdout) == (0, "Login Succeeded\n"), r.stderr
    r = docker("pull", ref)
    assert r.returncode == 0, r.stderr
    r = cli(engine, tmp_path, "run", "--rm", ref)  # berth reads the login docker wrote
    assert r.stdout == "dockerclilogin behind a password"


HELPER = r"""#!/usr/bin/python3
import json, os, sys
store = os.environ["BERTH_TEST_HELPER_STORE"]
data = json.load(open(store)) if os.path.exists(store) else {}
action, stdin = sys.argv[1], sys.stdin.read()
if action == "store":
    item = json.loads(stdin)
    data[item["ServerURL"]] = {"Username": item["Username"], "Secret": item["Secret"]}
elif action == "get":
    if stdin.strip() not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({"ServerURL": stdin.strip(), **data[stdin.strip()]}))
elif action == "erase":
    data.pop(stdin.strip(), None)
json.dump(data, open(store, "w"))
"""


def test_credential_helper(engine, locked, layout, tmp_path, monkeypatch):  # noqa: F811
    ref = _push_locked(layout, locked, "helpercreds")
    bindir, cfg_dir = tmp_path / "bin", tmp_path / "cfg"
    bindir.mkdir()
    cfg_dir.mkdir()
    helper = bindir / "docker-credential-berthtest"
    helper.write_text(HELPER)
    helper.chmod(0o755)
    store = tmp_path / "store.json"
    monkeypatch.setenv("BERTH_TEST_HELPER_STORE", str(store))
    (cfg_dir / "config.json").write_text(json.dumps({"credsStore": "berthtest"}))
    r = cli(engine, cfg_dir, "login", "-u", "alice", "--password-stdin", locked.host, stdin="s3cret",
            path=str(bindir))
    assert (r.returncode, r.stderr) == (0, ""), r.stderr  # no plain-text warning: the helper keeps it
    assert json.loads(store.read_text()) == {locked.host: {"Username": "alice", "Secret": "s3cret"}}
    assert config(cfg_dir) == {"credsStore": "berthtest", "auths": {locked.host: {}}}
    r = cli(engine, cfg_dir, "pull", ref, path=str(bindir))
    assert r.returncode == 0, r.stderr
    r = cli(engine, cfg_dir, "logout", locked.host, path=str(bindir))
    assert r.returncode == 0 and json.loads(store.read_text()) == {}
    (cfg_dir / "config.json").write_text(json.dumps({"credHelpers": {locked.host: "nosuchhelper"}}))
    r = cli(engine, cfg_dir, "login", "-u", "alice", "--password-stdin", locked.host, stdin="s3cret")
    assert r.returncode == 1
    assert r.stderr == ('Error saving credentials: error storing credentials - err: exec: '
                        '"docker-credential-nosuchhelper": executable file not found in $PATH, out: ``\n')
    r = cli(engine, cfg_dir, "pull", ref)
    assert r.returncode == 1 and 'exec: "docker-credential-nosuchhelper": executable file not found' in r.stderr
