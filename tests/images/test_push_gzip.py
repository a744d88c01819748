"""Push of an image berth built, as dockerd pushes one: the builder's plain layers go
gzipped (made once, kept, sent again by the next push), under a Docker schema2
manifest whose config is the image's, byte for byte; dockerd pulls and runs it."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from berth.containerd.snapshots import chain_id
from tests.build.conftest import write_tree
from tests.images import oci
from tests.images.conftest import berth
from tests.images.registry import Proxy, Registry

DOCKERFILE = """FROM {base}
COPY notes.txt /srv/notes.txt
RUN seq 1 200000 > /srv/numbers && echo built > /srv/built
HEALTHCHECK --interval=30s CMD test -f /srv/built
CMD ["sh", "-c", "cat /srv/built; wc -l < /srv/numbers; md5sum /srv/notes.txt | cut -c1-32"]
"""
NOTES = b"berth pushes gzip layers, as dockerd does\n" * 20_000  # ~860 kB, compresses well
EXPECTED = f"built\n200000\n{hashlib.md5(NOTES).hexdigest()}\n"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


@dataclass
class Pushed:
    name: str           # PROXY/REPO: pushes go through the proxy, which lists what they send
    repo: str
    image: dict         # berth's image inspect after the push
    manifest: dict      # the registry's
    digest: str         # the registry's manifest digest
    out: str            # berth push's output


@pytest.fixture(scope="module")
def proxy(registry: Registry) -> Iterator[Proxy]:
    with Proxy(registry.host) as p:
        yield p


def _base(engine) -> str:
    """A busybox of the module's own, imported (a plain layer): other tests of the session
    engine may remove its busybox (image prune -a)."""
    entries = [e for e in oci.busybox_entries("base") if e[0] != "hello.txt"]
    entries += [(f"bin/{tool}", "sym", "busybox") for tool in ("seq", "wc", "md5sum", "cut", "test")]
    name = f"pushgz-base-{uuid.uuid4().hex[:8]}:1"
    with engine.client(timeout=120) as api:
        r = api.post("/images/create", params={"fromSrc": "-", "repo": name.split(":")[0], "tag": "1",
                                               "changes": "ENV PATH=/bin"}, content=oci.tar_bytes(entries))
    assert r.status_code == 200 and "error" not in r.text, r.text
    return name


@pytest.fixture(scope="module")
def pushed(engine, proxy) -> Iterator[Pushed]:
    ctx = tempfile.mkdtemp(prefix="berth-pushgz-ctx-")
    try:
        write_tree(ctx, {"Dockerfile": DOCKERFILE.format(base=_base(engine)), "notes.txt": NOTES})
        repo = f"built-{uuid.uuid4().hex[:8]}"
        name = f"{proxy.host}/{repo}"
        r = berth(engine, "build", "-t", f"{name}:v1", ctx)
        assert r.returncode == 0, r.stdout + r.stderr
        r = berth(engine, "push", f"{name}:v1")
        assert r.returncode == 0, r.stdout + r.stderr
        m = _get(proxy, f"{repo}/manifests/v1")
        with engine.client() as api:
            image = api.get(f"/images/{name}:v1/json").json()
        yield Pushed(name, repo, image, m.json(), "sha256:" + hashlib.sha256(m.content).hexdigest(), r.stdout)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)


def _get(proxy: Proxy, path: str) -> httpx.Response:
    """Straight from the registry, not through the proxy."""
    r = httpx.get(f"http://{proxy.upstream}/v2/{path}", timeout=60,
                  headers={"Accept": DOCKER_MANIFEST + ", application/vnd.oci.image.manifest.v1+json"})
    assert r.status_code == 200, r.text
    return r


def _compressed(engine) -> dict[str, str]:
    """berth-containerd's record of the gzip made of each plain layer."""
    db = sqlite3.connect(os.path.join(engine.data_root, "containerd", "metadata.db"))
    try:
        return dict(db.execute("SELECT diff_id, digest FROM compressed_layers").fetchall())
    finally:
        db.close()


def _blob_exists(engine, digest: str) -> bool:
    return os.path.exists(os.path.join(engine.data_root, "containerd", "content", "blobs", "sha256", digest[7:]))


def test_the_registry_has_gzip_layers_of_the_configs_diff_ids(engine, proxy, pushed):
    m = pushed.manifest
    assert m["mediaType"] == DOCKER_MANIFEST and m["schemaVersion"] == 2
    assert m["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
    assert m["config"]["digest"] == pushed.image["Id"]  # the same config: the same image id
    config = json.loads(_get(proxy, f"{pushed.repo}/blobs/{pushed.image['Id']}").content)
    diff_ids = config["rootfs"]["diff_ids"]
    assert diff_ids == pushed.image["RootFS"]["Layers"] and len(diff_ids) == 3  # the base, COPY, RUN
    assert [d["mediaType"] for d in m["layers"]] == [DOCKER_GZIP] * 3
    for desc, diff_id in zip(m["layers"], diff_ids, strict=True):
        blob = _get(proxy, f"{pushed.repo}/blobs/{desc['digest']}").content
        assert blob[:2] == b"\x1f\x8b" and len(blob) == desc["size"]
        plain = gzip.decompress(blob)
        assert "sha256:" + hashlib.sha256(plain).hexdigest() == diff_id
        assert len(blob) < len(plain) * 0.7  # what went is the compressed bytes
    assert config["config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "test -f /srv/built"]
    # diff id -> gzip digest is recorded, and the gzip blobs kept for the next push
    known = _compressed(engine)
    for desc, diff_id in zip(m["layers"], diff_ids, strict=True):
        assert known[diff_id] == desc["digest"] and _blob_exists(engine, desc["digest"])


def test_the_image_names_the_pushed_digest(engine, pushed):
    assert f"{pushed.name}@{pushed.digest}" in pushed.image["RepoDigests"]
    assert f"v1: digest: {pushed.digest} size: " in pushed.out
    r = engine.docker("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}", pushed.name)
    assert r.returncode == 0, r.stderr
    assert f"{pushed.name} v1 {pushed.digest}" in r.stdout.splitlines()
    r = berth(engine, "images", "--digests", pushed.name)
    assert r.returncode == 0, r.stderr
    assert [line.split()[:3] for line in r.stdout.splitlines()[1:]] == [[pushed.name, "v1", pushed.digest]]


def test_a_second_push_uploads_nothing_and_gives_the_same_digest(engine, proxy, pushed):
    known = _compressed(engine)
    proxy.uploads.clear()
    r = berth(engine, "push", f"{pushed.name}:v1")
    assert r.returncode == 0, r.stderr
    ids = {d[7:19] for d in pushed.image["RootFS"]["Layers"]}
    layers = [line for line in r.stdout.splitlines() if line[:12] in ids and not line.endswith(": Preparing")]
    assert sorted(layers) == sorted(f"{i}: Layer already exists" for i in ids), r.stdout
    assert proxy.uploads == [("PUT", f"/v2/{pushed.repo}/manifests/v1")]  # no blob: only the manifest again
    assert f"v1: digest: {pushed.digest} " in r.stdout
    assert _compressed(engine) == known  # nothing compressed again


def test_another_repository_gets_the_same_gzip_blobs_mounted(engine, proxy, pushed):
    other = f"{proxy.host}/again-{uuid.uuid4().hex[:8]}"
    assert berth(engine, "tag", f"{pushed.name}:v1", f"{other}:v1").returncode == 0
    proxy.uploads.clear()
    r = berth(engine, "push", f"{other}:v1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(f": Mounted from {pushed.name}") == 3, r.stdout
    assert f"v1: digest: {pushed.digest} " in r.stdout  # the very same manifest
    assert not [u for u in proxy.uploads if u[0] == "PATCH" or "/uploads/" in u[1] and u[0] == "PUT"]


def test_dockerd_pulls_and_runs_it(pushed, dockerd, proxy):
    ref = f"{proxy.upstream}/{pushed.repo}:v1"  # dockerd takes 127.0.0.1:* as insecure
    r = dockerd.docker("pull", ref, timeout=300)
    assert r.returncode == 0, r.stderr
    image = json.loads(dockerd.docker("image", "inspect", ref).stdout)[0]
    assert image["Id"] == pushed.image["Id"]
    assert image["RootFS"]["Layers"] == pushed.image["RootFS"]["Layers"]
    assert image["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "test -f /srv/built"]
    assert f"{proxy.upstream}/{pushed.repo}@{pushed.digest}" in image["RepoDigests"]
    r = dockerd.docker("run", "--rm", "--network", "none", ref, timeout=300)
    assert (r.returncode, r.stdout) == (0, EXPECTED), r.stderr
    dockerd.docker("rmi", ref)


def test_prune_keeps_the_gzip_and_the_layers_of_an_image_still_here(engine, pushed):
    known = _compressed(engine)
    with engine.client(timeout=120) as api:
        r = api.post("/images/prune")  # garbage collection of blobs and snapshots follows its deletes
        assert r.status_code == 200, r.text
    assert {d: known[d] for d in pushed.image["RootFS"]["Layers"]} == \
        {d: _compressed(engine)[d] for d in pushed.image["RootFS"]["Layers"]}
    assert all(_blob_exists(engine, d["digest"]) for d in pushed.manifest["layers"])
    layers = pushed.image["RootFS"]["Layers"]
    committed = os.listdir(os.path.join(engine.data_root, "containerd", "snapshots", "committed"))
    assert {chain_id(layers[:i + 1])[7:] for i in range(len(layers))} <= set(committed)  # not unpacked again
    r = berth(engine, "run", "--rm", "--network", "none", f"{pushed.name}:v1")
    assert (r.returncode, r.stdout) == (0, EXPECTED), r.stderr


def test_removing_the_image_drops_its_gzip_blobs(engine, registry):
    """The gzip of a layer lives while an image has the layer; rmi of the last one takes it along."""
    ctx = tempfile.mkdtemp(prefix="berth-pushgz-rm-")
    try:
        write_tree(ctx, {"Dockerfile": "FROM scratch\nCOPY f /f\n", "f": os.urandom(4096).hex()})
        name = f"{registry.host}/gone-{uuid.uuid4().hex[:8]}:v1"
        r = berth(engine, "build", "-q", "-t", name, ctx)
        assert r.returncode == 0, r.stderr
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    with engine.client() as api:
        diff_id = api.get(f"/images/{name}/json").json()["RootFS"]["Layers"][0]
    assert diff_id not in _compressed(engine)
    assert berth(engine, "push", name).returncode == 0
    digest = _compressed(engine)[diff_id]
    assert _blob_exists(engine, digest)
    r = berth(engine, "rmi", name)
    assert r.returncode == 0, r.stderr
    assert diff_id not in _compressed(engine) and not _blob_exists(engine, digest)


def test_a_push_failing_while_it_compresses_leaves_nothing_and_the_next_one_works(engine, proxy):
    ctx = tempfile.mkdtemp(prefix="berth-pushgz-fail-")
    try:
        write_tree(ctx, {"Dockerfile": "FROM scratch\nCOPY big /big\n", "big": os.urandom(20 << 20)})
        name = f"{proxy.host}/broken-{uuid.uuid4().hex[:8]}:v1"
        r = berth(engine, "build", "-q", "-t", name, ctx)
        assert r.returncode == 0, r.stderr
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    proxy.fail_patch = 2  # the second of the 8 MiB PATCHes: mid-layer
    r = berth(engine, "push", name)
    proxy.fail_patch = 0
    assert r.returncode == 1 and "unknown error" in r.stderr, r.stdout + r.stderr
    assert os.listdir(os.path.join(engine.data_root, "containerd", "content", "ingest")) == []
    r = berth(engine, "push", name)
    assert r.returncode == 0, r.stdout + r.stderr
    repo, tag = name.split("/", 1)[1].split(":")
    m = _get(proxy, f"{repo}/manifests/{tag}").json()
    blob = _get(proxy, f"{repo}/blobs/{m['layers'][0]['digest']}").content
    with engine.client() as api:
        diff_id = api.get(f"/images/{name}/json").json()["RootFS"]["Layers"][0]
    assert "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest() == diff_id
    assert berth(engine, "rmi", name).returncode == 0
