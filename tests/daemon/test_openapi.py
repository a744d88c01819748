"""/openapi.json describes the Docker API berthd serves: every route declares its query
parameters, headers and error codes (names and codes from Docker's swagger, v1.45), so
a client can be generated from it and a schema-driven test reaches the code paths.
schemathesis then fuzzes the read-only endpoints from it: no input makes a 5xx, and
every status that comes back is one the document declares."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, status_code_conformance
from tests.daemon.conftest import Berthd

# (method, path): (query parameters, headers, error codes) as Docker's swagger has them,
# plus those dockerd answers that its swagger does not list (a 400 for a bad value, a 409
# to start a container marked for removal or resize one that is not running).
DOCKER_API: dict[tuple[str, str], tuple[set[str], set[str], set[int]]] = {
    ("get", "/_ping"): (set(), set(), {500}),
    ("head", "/_ping"): (set(), set(), {500}),
    ("get", "/version"): (set(), set(), {500}),
    ("get", "/info"): (set(), set(), {500}),
    ("post", "/images/create"): ({"fromImage", "fromSrc", "repo", "tag", "message", "changes", "platform"},
                                 {"X-Registry-Auth"}, {400, 404, 500}),
    ("get", "/images/json"): ({"all", "filters", "shared-size", "digests"}, set(), {400, 404, 500}),
    ("get", "/images/{name}/json"): (set(), set(), {404, 500}),
    ("get", "/images/{name}/history"): (set(), set(), {404, 500}),
    ("post", "/images/{name}/push"): ({"tag"}, {"X-Registry-Auth"}, {404, 500}),
    ("post", "/images/{name}/tag"): ({"repo", "tag"}, set(), {400, 404, 409, 500}),
    ("delete", "/images/{name}"): ({"force", "noprune"}, set(), {404, 409, 500}),
    ("post", "/images/prune"): ({"filters"}, set(), {400, 500}),
    ("get", "/images/{name}/get"): (set(), set(), {404, 500}),
    ("get", "/images/get"): ({"names"}, set(), {400, 404, 500}),
    ("post", "/images/load"): ({"quiet"}, set(), {400, 500}),
    ("post", "/build"): ({"dockerfile", "t", "extrahosts", "remote", "q", "nocache", "cachefrom", "pull", "rm",
                          "forcerm", "memory", "memswap", "cpushares", "cpusetcpus", "cpuperiod", "cpuquota",
                          "buildargs", "shmsize", "squash", "labels", "networkmode", "platform", "target",
                          "outputs", "version"}, {"Content-type", "X-Registry-Config"}, {400, 500}),
    ("post", "/build/prune"): ({"keep-storage", "all", "filters"}, set(), {400, 500}),
    ("post", "/commit"): ({"container", "repo", "tag", "comment", "author", "pause", "changes"}, set(),
                          {400, 404, 409, 500}),
    ("post", "/containers/create"): ({"name", "platform"}, set(), {400, 404, 409, 500}),
    ("get", "/containers/json"): ({"all", "limit", "size", "filters"}, set(), {400, 500}),
    ("get", "/containers/{id}/json"): ({"size"}, set(), {404, 500}),
    ("post", "/containers/{id}/start"): ({"detachKeys"}, set(), {400, 404, 409, 500}),
    ("post", "/containers/{id}/stop"): ({"signal", "t"}, set(), {400, 404, 500}),
    ("post", "/containers/{id}/kill"): ({"signal"}, set(), {400, 404, 409, 500}),
    ("post", "/containers/prune"): ({"filters"}, set(), {400, 500}),
    ("post", "/containers/{id}/wait"): ({"condition"}, set(), {400, 404, 500}),
    ("get", "/containers/{id}/logs"): ({"follow", "stdout", "stderr", "since", "until", "timestamps", "tail"},
                                       set(), {400, 404, 500}),
    ("get", "/containers/{id}/attach/ws"): ({"detachKeys", "logs", "stream", "stdin", "stdout", "stderr"},
                                            set(), {400, 404, 500}),
    ("post", "/containers/{id}/attach"): ({"detachKeys", "logs", "stream", "stdin", "stdout", "stderr"},
                                          set(), {400, 404, 500}),
    ("post", "/containers/{id}/resize"): ({"h", "w"}, set(), {400, 404, 409, 500}),
    ("get", "/containers/{id}/top"): ({"ps_args"}, set(), {404, 409, 500}),
    ("delete", "/containers/{id}"): ({"v", "force", "link"}, set(), {400, 404, 409, 500}),
    ("post", "/containers/{id}/exec"): (set(), set(), {400, 404, 409, 500}),
    ("post", "/exec/{id}/start"): (set(), set(), {400, 404, 409, 500}),
    ("post", "/exec/{id}/resize"): ({"h", "w"}, set(), {400, 404, 500}),
    ("get", "/exec/{id}/json"): (set(), set(), {404, 500}),
    ("get", "/containers/{id}/stats"): ({"stream", "one-shot"}, set(), {404, 500}),
    ("post", "/containers/{id}/update"): (set(), set(), {400, 404, 409, 500}),
    ("get", "/events"): ({"since", "until", "filters"}, set(), {400, 500}),
    ("get", "/system/df"): ({"type"}, set(), {400, 500}),
    ("get", "/networks"): ({"filters"}, set(), {400, 500}),
    ("get", "/networks/{id}"): ({"verbose", "scope"}, set(), {404, 500}),
    ("delete", "/networks/{id}"): (set(), set(), {403, 404, 500}),
    ("post", "/networks/create"): (set(), set(), {400, 403, 404, 409, 500}),
    ("post", "/networks/{id}/connect"): (set(), set(), {400, 403, 404, 500}),
    ("post", "/networks/{id}/disconnect"): (set(), set(), {400, 403, 404, 500}),
    ("post", "/networks/prune"): ({"filters"}, set(), {400, 500}),
    # working inside containers: docker cp, export, pause, rename, restart
    ("head", "/containers/{id}/archive"): ({"path"}, set(), {400, 404, 500}),
    ("get", "/containers/{id}/archive"): ({"path"}, set(), {400, 404, 500}),
    ("put", "/containers/{id}/archive"): ({"path", "noOverwriteDirNonDir", "copyUIDGID"}, set(),
                                          {400, 403, 404, 500}),
    ("get", "/containers/{id}/export"): (set(), set(), {404, 500}),
    ("get", "/containers/{id}/changes"): (set(), set(), {404, 500}),
    ("post", "/containers/{id}/pause"): (set(), set(), {404, 409, 500}),
    ("post", "/containers/{id}/unpause"): (set(), set(), {404, 409, 500}),
    ("post", "/containers/{id}/rename"): ({"name"}, set(), {400, 404, 409, 500}),
    ("post", "/containers/{id}/restart"): ({"signal", "t"}, set(), {400, 404, 409, 500}),
    ("post", "/auth"): (set(), set(), {400, 401, 500}),
    ("get", "/distribution/{name}/json"): (set(), {"X-Registry-Auth"}, {400, 401, 404, 500}),
    ("get", "/volumes"): ({"filters"}, set(), {400, 500}),
    ("post", "/volumes/create"): (set(), set(), {400, 404, 500}),
    ("get", "/volumes/{name}"): (set(), set(), {404, 500}),
    ("delete", "/volumes/{name}"): ({"force"}, set(), {404, 409, 500}),
    ("post", "/volumes/prune"): ({"filters"}, set(), {400, 500}),
    ("get", "/swarm"): (set(), set(), {500, 503}),
    ("post", "/swarm/leave"): ({"force"}, set(), {500, 503}),
}
_SUCCESS = {("post", "/containers/{id}/start"): {"204", "304"}, ("post", "/containers/{id}/stop"): {"204", "304"},
            ("post", "/containers/{id}/attach"): {"101", "200"}, ("get", "/containers/{id}/attach/ws"): {"101"},
            ("post", "/containers/create"): {"201"},
            ("post", "/containers/{id}/kill"): {"204"}, ("delete", "/containers/{id}"): {"204"},
            ("post", "/containers/{id}/exec"): {"201"}, ("post", "/exec/{id}/start"): {"101", "200"},
            ("post", "/networks/create"): {"201"}, ("delete", "/networks/{id}"): {"204"},
            ("post", "/images/{name}/tag"): {"201"}, ("post", "/containers/{id}/pause"): {"204"},
            ("post", "/containers/{id}/unpause"): {"204"}, ("post", "/containers/{id}/rename"): {"204"},
            ("post", "/containers/{id}/restart"): {"204"}, ("post", "/commit"): {"201"},
            ("post", "/volumes/create"): {"201"}, ("delete", "/volumes/{name}"): {"204"}}


@pytest.fixture(scope="module")
def doc(berthd: Berthd) -> dict[str, Any]:
    with berthd.client() as c:
        r = c.get("/openapi.json")
        assert r.status_code == 200
        return r.json()


def _operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m, p): op for p, item in doc["paths"].items() for m, op in item.items()}


def test_every_route_is_one_of_dockers_and_each_is_served(doc: dict[str, Any]) -> None:
    assert set(_operations(doc)) == set(DOCKER_API)


@pytest.mark.parametrize("route", sorted(DOCKER_API), ids=lambda r: f"{r[0].upper()} {r[1]}")
def test_each_route_declares_its_parameters_and_codes(doc: dict[str, Any], route: tuple[str, str]) -> None:
    op = _operations(doc)[route]
    query, headers, codes = DOCKER_API[route]
    params = {(p["in"], p["name"]): p for p in op.get("parameters", [])}
    assert {n for where, n in params if where == "query"} == query
    assert {n for where, n in params if where == "header"} == headers
    for name in ("id", "name"):
        if "{" + name + "}" in route[1]:
            assert params[("path", name)]["required"] is True
    for p in params.values():
        assert p["schema"].get("type") in ("string", "integer", "boolean", "array"), p
        assert p["in"] == "path" or p.get("description"), p  # what each one does, as docker's swagger says
    responses = op["responses"]
    assert "422" not in responses  # berthd answers an unreadable request with docker's 400
    assert {int(c) for c in responses if int(c) >= 400} == codes
    for code in codes:
        schema = responses[str(code)]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
    assert _SUCCESS.get(route, {"200"}) <= set(responses)


def test_booleans_are_dockers_and_typed_as_booleans(doc: dict[str, Any], api: httpx.Client) -> None:
    params = {p["name"]: p for p in _operations(doc)[("get", "/containers/json")]["parameters"]}
    assert params["all"]["schema"]["type"] == "boolean" and params["limit"]["schema"]["type"] == "integer"
    cid = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["true"]}).json()["Id"]
    try:
        for value, listed in (("1", True), ("true", True), ("yes", True), ("True", True), ("2", True),
                              ("0", False), ("false", False), ("no", False), ("none", False), ("", False)):
            ids = [c["Id"] for c in api.get("/containers/json", params={"all": value}).json()]
            assert (cid in ids) is listed, value
        r = api.get("/containers/json", params={"limit": "many"})
        assert r.status_code == 400 and r.json()["message"] == "invalid value for limit: 'many': not an integer"
        assert api.get("/containers/json", params={"limit": ""}).status_code == 200
    finally:
        api.delete(f"/containers/{cid}")


# Read-only endpoints only: nothing generated can change the engine's state.
_FUZZED = [("GET", "/_ping"), ("GET", "/version"), ("GET", "/info"), ("GET", "/images/json"),
           ("GET", "/images/{name}/json"), ("GET", "/images/{name}/history"), ("GET", "/images/{name}/get"),
           ("GET", "/images/get"), ("GET", "/containers/json"), ("GET", "/containers/{id}/json"),
           ("GET", "/networks"), ("GET", "/networks/{id}"), ("GET", "/volumes"), ("GET", "/volumes/{name}")]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("method,path", _FUZZED, ids=[f"{m} {p}" for m, p in _FUZZED])
def test_no_input_makes_a_5xx(doc: dict[str, Any], berthd: Berthd, method: str, path: str,
                              mode: GenerationMode) -> None:
    operation = schemathesis.openapi.from_dict(doc)[path][method]
    declared = _operations(doc)[(method.lower(), path)].get("parameters", [])
    if mode is GenerationMode.NEGATIVE and all(p["schema"]["type"] == "string" for p in declared):
        pytest.skip("any string is a valid value here: nothing to make invalid")
    client = berthd.client(timeout=30)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://berth")
        response = client.request(kwargs["method"], kwargs["url"], params=kwargs.get("params"),
                                  headers=kwargs.get("headers"))
        case.validate_response(response, checks=[not_a_server_error, status_code_conformance])

    try:
        check()
    finally:
        client.close()
