"""Pull from an open registry: the berth CLI, the docker CLI and the docker SDK, with
docker's progress, by tag and by digest, every layer compression, multi-platform."""

from __future__ import annotations

import json
import os

import docker
import pytest

from tests.images import oci
from tests.images.conftest import berth, pull_lines, unique_image


def _blob_path(engine, digest: str) -> str:
    return os.path.join(engine.data_root, "containerd", "content", "blobs", "sha256", digest[7:])


def test_run_pulls_a_missing_image_then_runs_it(engine, registry, layout):
    ref, _ = unique_image(layout, registry.host, "hello", message="hello from the registry")
    r = berth(engine, "run", "--rm", ref)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello from the registry"
    assert r.stderr.startswith(f"Unable to find image '{ref}' locally\n"), r.stderr
    assert "v1: Pulling from " in r.stderr and ": Pull complete\n" in r.stderr
    assert f"Status: Downloaded newer image for {ref}\n" in r.stderr
    assert "\x1b[" not in r.stderr  # not a terminal: plain lines, no bars
    r = berth(engine, "run", "--rm", ref)  # now it is local: no pull
    assert r.returncode == 0 and r.stderr == "" and r.stdout == "hello from the registry"


def test_the_api_streams_dockers_progress_messages(api, registry, layout):
    ref, desc = unique_image(layout, registry.host, "progress", hows=("gzip", "gzip"))
    status, msgs = pull_lines(api, ref)
    assert status == 200, msgs
    repo = ref.split("/", 1)[1].split(":")[0]
    assert msgs[0] == {"status": f"Pulling from {repo}", "id": "v1"}
    layer_ids = {m["id"] for m in msgs if m.get("status") == "Pulling fs layer"}
    assert len(layer_ids) == 3
    for m in msgs:
        if m.get("id") in layer_ids:
            assert "progressDetail" in m
    downloading = [m for m in msgs if m.get("status") == "Downloading"]
    assert downloading and all(set(m["progressDetail"]) == {"current", "total"} for m in downloading)
    assert all(m["progress"].startswith("[") and "B/" in m["progress"] for m in downloading)
    for ident in layer_ids:
        statuses = [m["status"] for m in msgs if m.get("id") == ident]
        order = ["Pulling fs layer", "Verifying Checksum", "Download complete", "Extracting", "Pull complete"]
        assert [s for s in statuses if s in order and s != "Extracting"] == [s for s in order if s != "Extracting"]
    assert msgs[-2] == {"status": f"Digest: {desc['digest']}"}
    assert msgs[-1] == {"status": f"Status: Downloaded newer image for {ref}"}
    # again: nothing to fetch, the name already points at it
    status, msgs = pull_lines(api, ref)
    assert status == 200
    assert {m["status"] for m in msgs if m.get("id") in layer_ids} == {"Already exists"}
    assert msgs[-1] == {"status": f"Status: Image is up to date for {ref}"}


def test_docker_cli_pulls_through_berthd(engine, registry, layout):
    ref, desc = unique_image(layout, registry.host, "dockercli")
    r = engine.docker("pull", ref.rsplit(":", 1)[0] + ":v1", timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Pull complete" in r.stdout and f"Digest: {desc['digest']}" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1] == ref
    r = engine.docker("images", "--format", "{{.Repository}}:{{.Tag}}")
    assert ref in r.stdout.split()
    r = engine.docker("run", "--rm", ref)
    assert r.returncode == 0 and r.stdout.startswith("hello from")


def test_docker_sdk_pull(engine, registry, layout):
    ref, _ = unique_image(layout, registry.host, "sdk")
    client = docker.DockerClient(base_url=engine.host)
    try:
        repo, tag = ref.rsplit(":", 1)
        image = client.images.pull(repo, tag=tag)
        assert ref in image.tags
        assert image.attrs["Architecture"] == "amd64"
    finally:
        client.close()


def test_pull_by_digest(engine, registry, layout, api):
    ref, desc = unique_image(layout, registry.host, "bydigest")
    pinned = ref.rsplit(":", 1)[0] + "@" + desc["digest"]
    r = berth(engine, "pull", pinned)
    assert r.returncode == 0, r.stderr
    assert "Using default tag" not in r.stdout
    assert f"Status: Downloaded newer image for {pinned}" in r.stdout
    info = api.get(f"/images/{pinned}/json").json()
    assert info["RepoDigests"] == [pinned] and info["RepoTags"] == []
    r = berth(engine, "run", "--rm", pinned)
    assert r.returncode == 0 and r.stdout.startswith("hello from")


def test_a_digest_the_registry_does_not_have_is_not_found(engine, registry, layout):
    ref, _ = unique_image(layout, registry.host, "baddigest")
    r = berth(engine, "pull", ref.rsplit(":", 1)[0] + "@sha256:" + "0" * 64)
    assert r.returncode == 1
    assert "not found: manifest unknown" in r.stderr


def test_gzip_zstd_and_plain_layers(engine, registry, layout):
    ref, _ = unique_image(layout, registry.host, "compressions", hows=("gzip", "zstd", "tar"))
    r = berth(engine, "run", "--rm", ref, "sh", "-c", "ls /data | sort")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["gzip-0", "tar-2", "zstd-1"]


def test_platform_is_chosen_from_an_index(engine, registry, layout, api):
    amd = layout.image([oci.Layer(oci.tar_bytes(oci.busybox_entries("amd64 flavour")))], ["cat", "/hello.txt"])
    arm = layout.image([oci.Layer(oci.tar_bytes(oci.busybox_entries("arm64 flavour")))], ["cat", "/hello.txt"],
                       arch="arm64")
    index = layout.index([amd, arm])
    layout.tag(index, "multi")
    repo = f"{registry.host}/multi-{os.getpid()}"
    oci.push(layout, "multi", f"{repo}:v1", all_platforms=True)
    r = berth(engine, "run", "--rm", f"{repo}:v1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "amd64 flavour"
    assert f"Digest: {index['digest']}" in r.stderr
    status, msgs = pull_lines(api, f"{repo}:v1", platform="linux/arm64")
    assert status == 200, msgs
    info = api.get(f"/images/{repo}:v1/json").json()
    assert info["Architecture"] == "arm64"


def test_an_index_without_our_platform(engine, registry, layout):
    arm = layout.image([oci.Layer(oci.tar_bytes(oci.busybox_entries("arm only")))], ["true"], arch="arm64")
    layout.tag(layout.index([arm]), "armonly")
    repo = f"{registry.host}/armonly-{os.getpid()}"
    oci.push(layout, "armonly", f"{repo}:v1", all_platforms=True)
    r = berth(engine, "pull", f"{repo}:v1")
    assert r.returncode == 1
    assert "no matching manifest for linux/amd64 in the manifest list entries" in r.stderr


def test_a_single_manifest_for_another_platform(engine, registry, layout):
    ref, _ = unique_image(layout, registry.host, "armsingle", arch="arm64")
    r = berth(engine, "pull", ref)
    assert r.returncode == 1
    assert "does not match the specified platform: wanted linux/amd64, actual: linux/arm64" in r.stderr


def test_unknown_tag_and_unknown_repository(engine, registry, layout, api):
    ref, _ = unique_image(layout, registry.host, "tags")
    repo = ref.rsplit(":", 1)[0]
    r = api.post("/images/create", params={"fromImage": repo, "tag": "nope"})
    assert r.status_code == 404
    assert r.json()["message"] == f"manifest for {repo}:nope not found: manifest unknown: manifest unknown"
    r = berth(engine, "pull", f"{repo}:nope")
    assert r.returncode == 1
    assert r.stderr == f"Error response from daemon: manifest for {repo}:nope not found: " \
                       "manifest unknown: manifest unknown\n"
    r = berth(engine, "run", "--rm", f"{registry.host}/no-such-repo")
    assert r.returncode == 125
    assert f"Unable to find image '{registry.host}/no-such-repo:latest' locally" in r.stderr
    assert "not found" in r.stderr


def test_a_bad_reference_is_a_bad_request(api):
    r = api.post("/images/create", params={"fromImage": "UPPER/case", "tag": "v1"})
    assert r.status_code == 400
    assert "must be lowercase" in r.json()["message"]


@pytest.mark.parametrize("quiet", [True, False])
def test_pull_quiet_prints_only_the_name(engine, registry, layout, quiet):
    ref, _ = unique_image(layout, registry.host, "quiet")
    r = berth(engine, "pull", *(["-q"] if quiet else []), ref)
    assert r.returncode == 0, r.stderr
    if quiet:
        assert r.stdout == f"{ref}\n"
    else:
        assert r.stdout.endswith(f"\n{ref}\n") and "Pull complete" in r.stdout


def test_the_pulled_image_keeps_its_config_and_layers(api, registry, layout):
    ref, desc = unique_image(layout, registry.host, "inspect", hows=("zstd",))
    status, _ = pull_lines(api, ref)
    assert status == 200
    info = api.get(f"/images/{ref}/json").json()
    with open(os.path.join(layout.path, "blobs", "sha256", desc["digest"][7:])) as f:
        manifest = json.load(f)
    assert info["Id"] == manifest["config"]["digest"]
    assert info["Config"]["Cmd"] == ["cat", "/hello.txt"]
    assert len(info["RootFS"]["Layers"]) == 2
    assert info["Size"] > os.path.getsize(oci.BUSYBOX)
