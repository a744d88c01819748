"""save and load: berth's archive is a docker-archive and an OCI layout at once; it
loads back into berth, unpacks with umoci and loads into Debian's dockerd (a private
one, started here), whose own `docker save` (the pre-v25 layout, layer.tar files
and links) loads into berth and runs."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import uuid


from tests import dockerd as private_dockerd
from tests.images import oci
from tests.images.conftest import berth


def _busybox_image(api, name: str, message: str) -> str:
    data = oci.tar_bytes(oci.busybox_entries(message))
    repo, _, tag = name.rpartition(":")
    r = api.post("/images/create", params={"fromSrc": "-", "repo": repo, "tag": tag,
                                           "changes": ['CMD ["cat", "/hello.txt"]']}, content=data)
    assert r.status_code == 200, r.text
    return json.loads(r.text)["status"]


def _docker(d: private_dockerd.Dockerd, *args: str, **kw) -> subprocess.CompletedProcess:
    return d.docker(*args, text=False, **kw)


def test_save_is_a_docker_archive_and_an_oci_layout_and_loads_back(engine, api):
    name = f"saved-{uuid.uuid4().hex[:8]}:v1"
    image_id = _busybox_image(api, name, "saved by berth")
    r = api.get(f"/images/{name}/get")
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    assert "oci-layout" in names
    assert manifest == [{"Config": f"blobs/sha256/{image_id[7:]}", "RepoTags": [name],
                         "Layers": manifest[0]["Layers"]}]
    assert all(p in names for p in manifest[0]["Layers"])
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "v1"
    work = tempfile.mkdtemp(prefix="berth-save-")
    try:
        with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
            tar.extractall(f"{work}/layout", filter="data")
        subprocess.run(["umoci", "unpack", "--image", f"{work}/layout:v1", f"{work}/bundle"], check=True,
                       capture_output=True, timeout=120)
        with open(f"{work}/bundle/rootfs/hello.txt") as f:
            assert f.read() == "saved by berth"
        out = subprocess.run(["skopeo", "inspect", f"oci:{work}/layout:v1"], capture_output=True, text=True,
                             check=True).stdout
        assert json.loads(out)["Layers"] == manifest[0]["Layers"][0].replace("blobs/sha256/", "sha256:").split()
        # berth's CLI: save to a file, remove, load back, run
        tarball = f"{work}/image.tar"
        assert berth(engine, "save", "-o", tarball, name).returncode == 0
        assert berth(engine, "rmi", name).returncode == 0
        r = berth(engine, "load", "-i", tarball)
        assert r.returncode == 0, r.stderr
        assert r.stdout == f"Loaded image: {name}\n"
        r = berth(engine, "run", "--rm", name)
        assert r.returncode == 0 and r.stdout == "saved by berth", r.stderr
        # by id: no names in the archive, and it loads as the bare id
        r = subprocess.run(f"{engine_cli(engine)} save {image_id[7:19]} | {engine_cli(engine)} load",
                           shell=True, capture_output=True, text=True)
        assert r.stdout == f"Loaded image ID: {image_id}\n", r.stderr
    finally:
        shutil.rmtree(work, ignore_errors=True)
        api.delete(f"/images/{name}")


def engine_cli(engine) -> str:
    from tests.images.conftest import BERTH

    return f"{BERTH} -H {engine.host}"


def test_berth_save_loads_into_docker_and_docker_save_loads_into_berth(engine, api, dockerd):
    name = f"interop-{uuid.uuid4().hex[:8]}:v1"
    _busybox_image(api, name, "from berth to docker")
    saved = api.get(f"/images/{name}/get").content
    r = _docker(dockerd, "load", input=saved)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == f"Loaded image: {name}\n"
    r = _docker(dockerd, "run", "--rm", "--network", "none", name)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"from berth to docker"
    # and back: dockerd 20.10's own save (layer.tar per layer, a repositories file)
    back = f"fromdocker-{uuid.uuid4().hex[:8]}:v2"
    assert _docker(dockerd, "tag", name, back).returncode == 0
    r = _docker(dockerd, "save", back)
    assert r.returncode == 0, r.stderr
    api.delete(f"/images/{name}")
    r = api.post("/images/load", params={"quiet": "1"}, content=r.stdout)
    assert r.status_code == 200, r.text
    assert json.loads(r.text.splitlines()[0]) == {"stream": f"Loaded image: {back}\n"}
    r = berth(engine, "run", "--rm", back)
    assert r.returncode == 0 and r.stdout == "from berth to docker", r.stderr
    api.delete(f"/images/{back}")
    _docker(dockerd, "rmi", name, back)


def test_a_broken_archive_is_refused_and_leaves_nothing(engine, api):
    before = set(os.listdir(os.path.join(engine.data_root, "containerd", "snapshots", "committed")))
    r = api.post("/images/load", content=b"not a tar at all" * 100)
    assert r.status_code == 400 and r.json()["message"].startswith("load: ")
    # a docker-archive whose layer does not hash to the config's diff id
    layer = oci.tar_bytes([("f", "file", b"real")])
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [oci.digest(b"something else")]}}).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, data in (("layer.tar", layer), ("config.json", config),
                           ("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": ["liar:1"],
                                                          "Layers": ["layer.tar"]}]).encode())):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    r = api.post("/images/load", content=buf.getvalue())
    assert r.status_code == 400 and "diff id mismatch" in r.json()["message"]
    assert api.get("/images/liar:1/json").status_code == 404
    assert oci.digest(layer)[7:] not in os.listdir(os.path.join(engine.data_root, "containerd", "content", "blobs",
                                                                "sha256"))
    assert set(os.listdir(os.path.join(engine.data_root, "containerd", "snapshots", "committed"))) == before
    r = api.get("/images/no-such-image:v9/get")
    assert r.status_code == 404 and r.json()["message"] == "No such image: no-such-image:v9"
