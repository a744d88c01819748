"""GET /distribution/{name}/json against Debian's docker-registry: the descriptor and the
platforms of a remote image, shaped as dockerd's (an index lists its entries' platforms,
a Docker schema2 manifest its config's, an OCI manifest none), by the API and by the
docker SDK's get_registry_data; bad input answered as dockerd answers it."""

from __future__ import annotations

import subprocess
import uuid

import docker
import pytest

from tests.images import oci
from tests.images.conftest import unique_image
from tests.images.test_auth import _push_locked, locked, x_registry_auth  # noqa: F401 - the htpasswd registry


def test_an_oci_manifest(api, registry, layout):
    ref, desc = unique_image(layout, registry.host, "distoci")
    r = api.get(f"/distribution/{ref}/json")
    assert r.status_code == 200, r.text
    assert r.json() == {"Descriptor": {"mediaType": oci.OCI_MANIFEST, "digest": desc["digest"], "size": desc["size"]},
                        "Platforms": None}  # dockerd reads a platform for Docker manifests only
    by_digest = api.get(f"/distribution/{ref.rsplit(':', 1)[0]}@{desc['digest']}/json")
    assert by_digest.status_code == 200 and by_digest.json() == r.json()
    assert all(ref not in (i["RepoTags"] or []) for i in api.get("/images/json").json())  # nothing was pulled


def test_an_index_lists_its_platforms(engine, api, registry, layout):
    layer = oci.Layer(oci.tar_bytes(oci.busybox_entries("multi")), "gzip")
    amd, arm = layout.image([layer], ["true"], arch="amd64"), layout.image([layer], ["true"], arch="arm64")
    arm["platform"]["variant"] = "v8"
    index = layout.index([amd, arm])
    name = f"distmulti-{uuid.uuid4().hex[:8]}"
    layout.tag(index, name)
    oci.push(layout, name, f"{registry.host}/{name}:v1", all_platforms=True)
    r = api.get(f"/distribution/{registry.host}/{name}:v1/json")
    assert r.status_code == 200, r.text
    assert r.json() == {"Descriptor": {"mediaType": oci.OCI_INDEX, "digest": index["digest"], "size": index["size"]},
                        "Platforms": [{"architecture": "amd64", "os": "linux"},
                                      {"architecture": "arm64", "os": "linux", "variant": "v8"}]}
    client = docker.DockerClient(base_url=engine.host)
    try:
        data = client.images.get_registry_data(f"{registry.host}/{name}:v1")
        assert data.id == index["digest"]
        assert data.has_platform("linux/arm64/v8") and not data.has_platform("linux/s390x")
    finally:
        client.close()


def test_a_docker_manifest_names_its_configs_platform(api, registry, layout):
    name = f"distv2s2-{uuid.uuid4().hex[:8]}"
    desc = layout.image([oci.Layer(oci.tar_bytes(oci.busybox_entries("v2s2")), "gzip")], ["true"], arch="arm64")
    layout.tag(desc, name)
    subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", "--format", "v2s2",
                    f"oci:{layout.path}:{name}", f"docker://{registry.host}/{name}:v1"], check=True,
                   capture_output=True, timeout=300)
    r = api.get(f"/distribution/{registry.host}/{name}:v1/json")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["Descriptor"]["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert body["Platforms"] == [{"architecture": "arm64", "os": "linux"}]


def test_credentials_and_refusals(engine, api, registry, locked, layout):  # noqa: F811
    ref = _push_locked(layout, locked, "distlocked")
    r = api.get(f"/distribution/{ref}/json")
    assert r.status_code == 401 and "no basic auth credentials" in r.json()["message"]
    r = api.get(f"/distribution/{ref}/json", headers={"X-Registry-Auth": x_registry_auth(
        username="alice", password="s3cret", serveraddress=locked.host)})
    assert r.status_code == 200 and r.json()["Descriptor"]["mediaType"] == oci.OCI_MANIFEST
    r = api.get(f"/distribution/{registry.host}/nothere-{uuid.uuid4().hex[:6]}:v1/json")
    assert (r.status_code, r.json()["message"]) == (404, "manifest unknown: manifest unknown")
    r = api.get(f"/distribution/{registry.host}/UPPER/json")
    assert r.status_code == 400 and r.json()["message"].startswith("invalid reference format")
    r = api.get(f"/distribution/sha256:{'a' * 64}/json")
    assert (r.status_code, r.json()["message"]) == (500, "no manifest found for full image ID")
    r = api.get("/distribution/127.0.0.1:1/x:1/json")
    assert r.status_code == 500 and '"http://127.0.0.1:1/v2/' in r.json()["message"]

    client = docker.DockerClient(base_url=engine.host)
    try:
        with pytest.raises(docker.errors.NotFound, match="manifest unknown"):
            client.images.get_registry_data(f"{registry.host}/nothere:v1")
    finally:
        client.close()
