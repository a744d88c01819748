"""Registry mirrors and pulls of every tag. A berthd with --registry-mirror (a closed
port, an empty registry behind the tests' proxy, a registry holding library/NAME)
pulls docker.io images from the first mirror that has them, never leaving this
machine; /info shows the RegistryConfig as dockerd builds it. `pull -a` (and the API
without a tag) pulls every tag the registry lists, from mirrors too."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.daemon.conftest import Berthd, _cleanup
from tests.images import oci
from tests.images.conftest import berth, new_engine, unique_image
from tests.images.registry import Proxy, Registry, free_port


@pytest.fixture(scope="module")
def mirrors() -> Iterator[tuple[Registry, Proxy, str]]:
    """(the mirror holding images, the proxy in front of an empty one, a closed port's URL)."""
    full, empty = Registry(), Registry()
    full.start()
    empty.start()
    proxy = Proxy(empty.host)
    proxy.start()
    try:
        yield full, proxy, f"http://127.0.0.1:{free_port()}"
    finally:
        proxy.stop()
        empty.stop()
        full.stop()


@pytest.fixture(scope="module")
def mirrored(mirrors) -> Iterator[Berthd]:
    full, proxy, closed = mirrors
    d = new_engine(["--registry-mirror", closed, "--registry-mirror", f"http://{proxy.host}",
                    "--registry-mirror", f"http://{full.host}/", "--insecure-registry", "10.1.2.3/8",
                    "--insecure-registry", "myreg.example:5000"])
    try:
        yield d
    finally:
        _cleanup(d)


def _official(layout: oci.Layout, reg: Registry, tags: tuple[str, ...]) -> str:
    """library/NAME-<random> on `reg`, one image per tag (each says its tag); returns NAME."""
    name = f"mirrored-{uuid.uuid4().hex[:8]}"
    for tag in tags:
        desc = layout.image([oci.Layer(oci.tar_bytes(oci.busybox_entries(f"{name}:{tag}")), "gzip")],
                            ["cat", "/hello.txt"])
        layout.tag(desc, f"{name}-{tag}")
        oci.push(layout, f"{name}-{tag}", f"{reg.host}/library/{name}:{tag}")
    return name


def test_info_shows_the_registry_config(mirrored, mirrors):
    full, proxy, closed = mirrors
    urls = [f"{closed}/", f"http://{proxy.host}/", f"http://{full.host}/"]
    with mirrored.client() as c:
        info = c.get("/info").json()
    assert info["IndexServerAddress"] == "https://index.docker.io/v1/"
    assert info["RegistryConfig"] == {
        "AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
        "InsecureRegistryCIDRs": ["10.0.0.0/8", "127.0.0.0/8"],
        "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": urls, "Secure": True, "Official": True},
                         "myreg.example:5000": {"Name": "myreg.example:5000", "Mirrors": [], "Secure": False,
                                                "Official": False}},
        "Mirrors": urls}
    r = mirrored.docker("info", "--format", "{{json .RegistryConfig.Mirrors}}")
    assert r.returncode == 0 and json.loads(r.stdout) == urls, r.stderr
    theirs = mirrored.docker("info").stdout
    ours = berth(mirrored, "info").stdout
    section = "\n".join([" Insecure Registries:", "  myreg.example:5000", "  10.0.0.0/8", "  127.0.0.0/8",
                         " Registry Mirrors:", *(f"  {u}" for u in urls)]) + "\n"
    assert section in theirs and section in ours


def test_docker_io_pulls_come_from_the_first_mirror_that_has_them(mirrored, mirrors, layout):
    full, proxy, _ = mirrors
    name = _official(layout, full, ("v1", "v2"))
    r = berth(mirrored, "pull", f"{name}:v1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-2:] == [f"Status: Downloaded newer image for {name}:v1",
                                          f"docker.io/library/{name}:v1"]
    assert ("GET", f"/v2/library/{name}/manifests/v1") in proxy.seen  # asked first, had nothing
    r = berth(mirrored, "run", "--rm", f"{name}:v1")
    assert r.stdout == f"{name}:v1"
    r = mirrored.docker("pull", f"docker.io/library/{name}:v2", timeout=300)
    assert r.returncode == 0, r.stderr
    r = berth(mirrored, "run", "--rm", f"{name}:v2")
    assert r.stdout == f"{name}:v2"
    r = berth(mirrored, "pull", f"{name}:v3")  # no mirror has it: Docker Hub's answer would be the error
    assert r.returncode == 1


def test_pull_all_tags_through_mirrors(mirrored, mirrors, layout):
    full, _, _ = mirrors
    name = _official(layout, full, ("a1", "b2", "c3"))
    r = berth(mirrored, "pull", "-a", name)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    listed = httpx.get(f"http://{full.host}/v2/library/{name}/tags/list").json()["tags"]  # in the registry's order
    assert [line for line in lines if "Pulling from" in line] == [f"{tag}: Pulling from library/{name}" for tag in listed]
    assert sorted(listed) == ["a1", "b2", "c3"]
    assert sum(line.startswith("Digest: sha256:") for line in lines) == 3
    assert lines[-2:] == [f"Status: Downloaded newer image for {name}", f"docker.io/library/{name}"]
    assert "Using default tag" not in r.stdout
    with mirrored.client(timeout=300) as c:
        tags = {t for i in c.get("/images/json").json() for t in i["RepoTags"] or []}
        assert {f"{name}:a1", f"{name}:b2", f"{name}:c3"} <= tags
        r = c.post("/images/create", params={"fromImage": name})  # the API without a tag: every tag
    assert r.status_code == 200
    assert json.loads(r.text.splitlines()[-1]) == {"status": f"Status: Image is up to date for {name}"}


def test_pull_all_tags_from_a_registry(engine, registry, layout):
    ref, _ = unique_image(layout, registry.host, "alltags")
    repo = ref.rsplit(":", 1)[0]
    oci.push(layout, repo.rsplit("/", 1)[1], f"{repo}:v2")
    r = engine.docker("pull", "-a", repo, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == repo
    assert "v1: Pulling from" in r.stdout and "v2: Pulling from" in r.stdout
    r = berth(engine, "pull", "-a", ref)
    assert (r.returncode, r.stderr) == (1, "tag can't be used with --all-tags/-a\n")
    missing = f"{registry.host}/nothere-{uuid.uuid4().hex[:6]}"
    r = berth(engine, "pull", "-a", missing)
    assert r.returncode == 1
    assert r.stderr == (f"Error response from daemon: repository {missing} not found: name unknown: "
                        "repository name not known to registry\n")
