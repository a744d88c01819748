"""Push into Debian's docker-registry: the berth CLI, the docker CLI and the API, with
docker's progress; HEAD checks, cross-repository mounts, monolithic and chunked
uploads; and tools nobody here wrote (skopeo, umoci) reading what berth pushed."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import uuid

import httpx

from berth.common.reference import parse
from berth.containerd.content import ContentStore
from berth.containerd.remotes import Credentials, Hosts, Repository, upload
from tests.images import oci
from tests.images.conftest import berth, unique_image


def _import(api: httpx.Client, name: str, files: dict[str, bytes]) -> str:
    """docker import of a tar of `files` (plain, as received): an image no registry has."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    repo, _, tag = name.rpartition(":")
    r = api.post("/images/create", params={"fromSrc": "-", "repo": repo, "tag": tag}, content=buf.getvalue())
    assert r.status_code == 200, r.text
    return json.loads(r.text)["status"]


def _lines(r: httpx.Response) -> list[dict]:
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


def _registry_manifest(host: str, repo: str, tag: str) -> tuple[dict, str, int]:
    r = httpx.get(f"http://{host}/v2/{repo}/manifests/{tag}", headers={"Accept": ", ".join(
        [oci.OCI_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json"])})
    assert r.status_code == 200, r.text
    return r.json(), "sha256:" + hashlib.sha256(r.content).hexdigest(), len(r.content)


def test_push_of_an_imported_image_with_dockers_progress(engine, api, registry):
    name = f"{registry.host}/imported-{uuid.uuid4().hex[:8]}:v1"
    image_id = _import(api, name, {"hello.txt": os.urandom(2 << 20)})
    repo = name.split("/", 1)[1].split(":")[0]
    r = api.post(f"/images/{name.rsplit(':', 1)[0]}/push", params={"tag": "v1"},
                 headers={"X-Registry-Auth": "e30="})
    assert r.status_code == 200
    msgs = _lines(r)
    assert msgs[0] == {"status": f"The push refers to repository [{name.rsplit(':', 1)[0]}]"}
    layer = api.get(f"/images/{name}/json").json()["RootFS"]["Layers"][0][7:19]
    statuses = [m["status"] for m in msgs if m.get("id") == layer]
    assert statuses[0] == "Preparing" and statuses[-1] == "Pushed" and "Pushing" in statuses
    pushing = [m for m in msgs if m.get("status") == "Pushing"]
    assert all(set(m["progressDetail"]) == {"current", "total"} and m["progress"].startswith("[") for m in pushing)
    manifest, digest, size = _registry_manifest(registry.host, repo, "v1")
    assert msgs[-2] == {"status": f"v1: digest: {digest} size: {size}"}
    assert msgs[-1] == {"progressDetail": {}, "aux": {"Tag": "v1", "Digest": digest, "Size": size}}
    assert manifest["config"]["digest"] == image_id
    # the layer was stored as imported (a plain tar) and went gzipped, as dockerd pushes it
    blob = httpx.get(f"http://{registry.host}/v2/{repo}/blobs/{manifest['layers'][0]['digest']}").content
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert manifest["layers"][0]["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    assert blob[:2] == b"\x1f\x8b" and manifest["layers"][0]["size"] == len(blob)
    plain = gzip.decompress(blob)
    assert "sha256:" + hashlib.sha256(plain).hexdigest() == api.get(f"/images/{name}/json").json()["RootFS"]["Layers"][0]
    # pushed again: the registry has every blob
    r = api.post(f"/images/{name.rsplit(':', 1)[0]}/push", params={"tag": "v1"})
    assert [m["status"] for m in _lines(r) if m.get("id") == layer] == ["Preparing", "Layer already exists"]
    # and the image now has its repository digest, as docker's does after a push
    assert f"{name.rsplit(':', 1)[0]}@{digest}" in api.get(f"/images/{name}/json").json()["RepoDigests"]


def test_berth_push_mounts_from_the_repository_it_was_pulled_from(engine, registry, layout):
    ref, _ = unique_image(layout, registry.host, "mountsrc")
    assert berth(engine, "pull", ref).returncode == 0
    target = f"{registry.host}/mounted-{uuid.uuid4().hex[:8]}"
    assert berth(engine, "tag", ref, target).returncode == 0
    r = berth(engine, "push", target)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Using default tag: latest"
    assert lines[1] == f"The push refers to repository [{target}]"
    src = ref.split("/", 1)[1].split(":")[0]
    mounted = [line for line in lines if line.endswith(f": Mounted from {registry.host}/{src}")]
    assert len(mounted) == 2, r.stdout
    assert lines[-1].startswith("latest: digest: sha256:") and " size: " in lines[-1]
    # skopeo reads it: the digest berth printed is the registry's
    out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{target}:latest"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["Digest"] == lines[-1].split("digest: ")[1].split()[0]


def test_skopeo_copies_and_umoci_unpacks_what_berth_pushed(engine, api, registry):
    name = f"{registry.host}/interop-{uuid.uuid4().hex[:8]}:v1"
    _import(api, name, {"etc/message": b"pushed by berth\n"})
    r = berth(engine, "push", name)
    assert r.returncode == 0, r.stderr
    work = tempfile.mkdtemp(prefix="berth-umoci-")
    try:
        subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{name}",
                        f"oci:{work}/layout:v1"], check=True, capture_output=True, timeout=120)
        subprocess.run(["umoci", "unpack", "--image", f"{work}/layout:v1", f"{work}/bundle"],
                       check=True, capture_output=True, timeout=120)
        with open(f"{work}/bundle/rootfs/etc/message", "rb") as f:
            assert f.read() == b"pushed by berth\n"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_docker_cli_pushes_through_berthd(engine, api, registry):
    name = f"{registry.host}/dockerpush-{uuid.uuid4().hex[:8]}"
    _import(api, f"{name}:v2", {"a": os.urandom(1024)})
    r = engine.docker("push", f"{name}:v2", timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"The push refers to repository [{name}]" in r.stdout
    assert ": Pushed" in r.stdout and "v2: digest: sha256:" in r.stdout
    _, digest, _ = _registry_manifest(registry.host, name.split("/", 1)[1], "v2")
    assert f"v2: digest: {digest}" in r.stdout


def test_push_without_a_local_image_says_so(engine, registry):
    r = berth(engine, "push", f"{registry.host}/nothing-here:v1")
    assert r.returncode == 1
    assert r.stderr == f"An image does not exist locally with the tag: {registry.host}/nothing-here\n"
    r = engine.docker("push", f"{registry.host}/nothing-here:v1")
    assert r.returncode == 1
    assert f"An image does not exist locally with the tag: {registry.host}/nothing-here" in r.stderr


def test_all_tags_push_every_tag_of_the_repository(engine, api, registry):
    name = f"{registry.host}/alltags-{uuid.uuid4().hex[:8]}"
    _import(api, f"{name}:one", {"one": b"1"})
    _import(api, f"{name}:two", {"two": b"2"})
    r = berth(engine, "push", "--all-tags", name)
    assert r.returncode == 0, r.stderr
    assert "one: digest: sha256:" in r.stdout and "two: digest: sha256:" in r.stdout
    tags = httpx.get(f"http://{registry.host}/v2/{name.split('/', 1)[1]}/tags/list").json()["tags"]
    assert sorted(tags) == ["one", "two"]


def test_chunked_upload_reassembles_the_blob(registry):
    """PATCHes with Content-Range, then the closing PUT: the registry checks the digest."""
    root = tempfile.mkdtemp(prefix="berth-chunks-")
    try:
        store = ContentStore(root)
        data = os.urandom(300_001)
        digest, size = store.put(data)
        repo = Repository(Hosts(), parse(f"{registry.host}/chunked-{uuid.uuid4().hex[:8]}"), Credentials(),
                          actions="pull,push")
        seen: list[int] = []
        upload.upload(repo, upload.start(repo), digest, store.path(digest), size,
                      lambda cur, _total: seen.append(cur), chunk=65_536)
        assert seen[-1] == size
        assert upload.blob_exists(repo, digest)
        got = httpx.get(f"http://{registry.host}/v2/{repo.ref.path}/blobs/{digest}").content
        assert got == data
        # a wrong digest is refused by the registry, and nothing is stored under it
        bad = "sha256:" + "0" * 64
        try:
            upload.upload(repo, upload.start(repo), bad, store.path(digest), size, lambda *_: None, chunk=100_000)
            raise AssertionError("the registry took a blob under a digest it does not have")
        except Exception as e:  # noqa: BLE001 - RegistryError, its code from the registry
            assert "digest" in str(e).lower()
        assert not upload.blob_exists(repo, bad)
    finally:
        shutil.rmtree(root, ignore_errors=True)
