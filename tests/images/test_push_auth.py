"""Push to registries that want credentials: htpasswd basic auth, and the bearer flow
through the tests' token service, whose tokens let in only the scopes they name (a
pull token does not let a push in: the client must ask again for pull,push)."""

from __future__ import annotations

import json
import subprocess
import uuid

from tests.images.conftest import berth
from tests.images.test_auth import locked, token_proxy, x_registry_auth  # noqa: F401 - fixtures
from tests.images.test_push import _import, _lines


def test_push_to_basic_auth_needs_the_password(engine, api, locked):  # noqa: F811
    name = f"{locked.host}/basicpush-{uuid.uuid4().hex[:8]}"
    _import(api, f"{name}:v1", {"f": b"behind a password"})
    r = berth(engine, "push", f"{name}:v1")
    assert r.returncode == 1
    assert r.stderr.endswith("no basic auth credentials\n"), r.stderr
    r = api.post(f"/images/{name}/push", params={"tag": "v1"},
                 headers={"X-Registry-Auth": x_registry_auth(username="alice", password="wrong")})
    assert _lines(r)[-1]["error"] == "unauthorized: authentication required"
    r = api.post(f"/images/{name}/push", params={"tag": "v1"},
                 headers={"X-Registry-Auth": x_registry_auth(username="alice", password="s3cret")})
    msgs = _lines(r)
    assert "error" not in msgs[-1], msgs[-1]
    assert msgs[-2]["status"].startswith("v1: digest: sha256:")
    out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--creds", "alice:s3cret",
                          f"docker://{name}:v1"], capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["Digest"] == msgs[-1]["aux"]["Digest"]


def test_push_through_the_bearer_flow_asks_for_push_scope(engine, api, registry, token_proxy):  # noqa: F811
    token_proxy.users = {"bob": "hunter2"}
    path = f"bearerpush-{uuid.uuid4().hex[:8]}"
    name = f"{token_proxy.host}/{path}"
    _import(api, f"{name}:v1", {"f": b"pushed with a token"})
    r = api.post(f"/images/{name}/push", params={"tag": "v1"},
                 headers={"X-Registry-Auth": x_registry_auth(username="bob", password="hunter2")})
    msgs = _lines(r)
    assert "error" not in msgs[-1], msgs[-1]
    assert any(f"repository:{path}:pull,push" in req["scopes"] for req in token_proxy.token_requests)
    assert all(req["authorization"].startswith("Basic ") for req in token_proxy.token_requests)
    assert ("PUT", f"/v2/{path}/manifests/v1") in token_proxy.uploads
    # the registry behind the proxy has it
    out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{registry.host}/{path}:v1"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["Digest"] == msgs[-1]["aux"]["Digest"]
    # wrong password: the token service says no, and so does the push
    r = api.post(f"/images/{name}/push", params={"tag": "v1"},
                 headers={"X-Registry-Auth": x_registry_auth(username="bob", password="nope")})
    assert _lines(r)[-1]["error"] == "unauthorized: incorrect username or password"  # docker's words
