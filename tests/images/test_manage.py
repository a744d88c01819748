"""tag, rmi, images (filters, digests), history and image prune, as docker's: the berth
CLI, the docker CLI and the API against a private berthd; what an rmi or a prune
removes is gone from the content store and the snapshots."""

from __future__ import annotations

import json
import os
import uuid

from tests.images.conftest import berth, unique_image
from tests.images.test_push import _import


def _blobs(engine) -> set[str]:
    return set(os.listdir(os.path.join(engine.data_root, "containerd", "content", "blobs", "sha256")))


def _committed(engine) -> set[str]:
    return set(os.listdir(os.path.join(engine.data_root, "containerd", "snapshots", "committed")))


def test_tag_and_rmi_untag_then_delete(engine, api):
    name = f"manage-{uuid.uuid4().hex[:8]}"
    image_id = _import(api, f"{name}:v1", {"x": os.urandom(4096)})
    layer = api.get(f"/images/{image_id}/json").json()["RootFS"]["Layers"][0]
    assert layer[7:] in _committed(engine)
    r = berth(engine, "tag", f"{name}:v1", f"{name}:v2")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    r = engine.docker("tag", f"{name}:v1", f"other-{name}")
    assert r.returncode == 0, r.stderr
    tags = api.get(f"/images/{image_id}/json").json()["RepoTags"]
    assert sorted(tags) == sorted([f"{name}:v1", f"{name}:v2", f"other-{name}:latest"])
    # an id with several references needs force
    r = berth(engine, "rmi", image_id[7:19])
    assert r.returncode == 1
    assert r.stderr == (f"Error response from daemon: conflict: unable to delete {image_id[7:19]} (must be forced)"
                        " - image is referenced in multiple repositories\n")
    assert berth(engine, "rmi", f"{name}:v2").stdout == f"Untagged: {name}:v2\n"
    assert engine.docker("rmi", f"other-{name}").stdout == f"Untagged: other-{name}:latest\n"
    r = berth(engine, "rmi", f"{name}:v1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"Untagged: {name}:v1\nDeleted: {image_id}\nDeleted: {layer}\n"
    assert image_id[7:] not in _blobs(engine) and layer[7:] not in _committed(engine)
    r = berth(engine, "rmi", f"{name}:v1")
    assert r.returncode == 1 and r.stderr == f"Error response from daemon: No such image: {name}:v1\n"
    assert api.delete(f"/images/{name}:v1").status_code == 404


def test_rmi_of_an_image_a_container_uses(engine, api):
    name = f"used-{uuid.uuid4().hex[:8]}"
    image_id = _import(api, f"{name}:latest", {"bin/true": b""})
    r = api.post("/containers/create", json={"Image": name, "Cmd": ["/bin/true"]})
    assert r.status_code == 201, r.text
    cid = r.json()["Id"]
    try:
        r = api.delete(f"/images/{name}")
        assert r.status_code == 409
        assert r.json()["message"] == (f'conflict: unable to remove repository reference "{name}" (must force) - '
                                       f"container {cid[:12]} is using its referenced image {image_id[7:19]}")
        r = api.delete(f"/images/{image_id}")
        assert r.status_code == 409
        assert r.json()["message"] == (f"conflict: unable to delete {image_id[7:19]} (must be forced) - "
                                       f"image is being used by stopped container {cid[:12]}")
        r = engine.docker("rmi", name)
        assert r.returncode == 1 and "must force" in r.stderr
        # forced: the image goes, the container keeps its layers
        r = api.delete(f"/images/{name}", params={"force": "1"})
        assert r.status_code == 200
        assert r.json()[0] == {"Untagged": f"{name}:latest"}
        assert {"Deleted": image_id} in r.json()
        layer = api.get(f"/containers/{cid}/json").json()
        assert layer["Image"] == image_id
    finally:
        api.delete(f"/containers/{cid}", params={"force": "1"})


def test_images_filters_quiet_and_digests(engine, api, registry, layout):
    tag = uuid.uuid4().hex[:8]
    a = _import(api, f"filt-a-{tag}:one", {"a": os.urandom(64)})
    b = _import(api, f"filt-b-{tag}:two", {"b": os.urandom(64)})
    dangling = _import(api, "", {"c": os.urandom(64)})

    def listed(*flt: str) -> list[dict]:
        filters: dict[str, dict[str, bool]] = {}
        for f in flt:
            k, _, v = f.partition("=")
            filters.setdefault(k, {})[v] = True
        return api.get("/images/json", params={"filters": json.dumps(filters)}).json()

    assert [i["Id"] for i in listed(f"reference=filt-a-{tag}")] == [a]
    assert {i["Id"] for i in listed(f"reference=filt-*-{tag}:*")} == {a, b}
    assert [i["Id"] for i in listed(f"reference=filt-*-{tag}:two")] == [b]
    assert dangling in [i["Id"] for i in listed("dangling=true")]
    assert a not in [i["Id"] for i in listed("dangling=true")]
    assert dangling not in [i["Id"] for i in listed("dangling=false")]
    assert api.get("/images/json", params={"filters": '{"bogus":{"x":true}}'}).status_code == 400
    r = berth(engine, "images", "-q", "--filter", f"reference=filt-b-{tag}")
    assert r.stdout == b[7:19] + "\n"
    r = berth(engine, "images", f"filt-a-{tag}")
    assert r.stdout.splitlines()[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert r.stdout.splitlines()[1].split()[:3] == [f"filt-a-{tag}", "one", a[7:19]]
    r = engine.docker("images", "--filter", "dangling=true", "-q", "--no-trunc")
    assert dangling in r.stdout.split() and a not in r.stdout.split()
    # a pulled image shows its repository digest
    ref, desc = unique_image(layout, registry.host, "digests")
    assert berth(engine, "pull", ref).returncode == 0
    r = berth(engine, "images", "--digests", ref.rsplit(":", 1)[0])
    head, row = r.stdout.splitlines()
    assert head.split()[:3] == ["REPOSITORY", "TAG", "DIGEST"]
    assert row.split()[:3] == [ref.rsplit(":", 1)[0], "v1", desc["digest"]]
    # rmi of its last tag takes its digest reference along, as docker's does
    r = berth(engine, "rmi", ref)
    assert r.stdout.splitlines()[:2] == [f"Untagged: {ref}", f"Untagged: {ref.rsplit(':', 1)[0]}@{desc['digest']}"]
    for ident in (a, b, dangling):
        api.delete(f"/images/{ident}", params={"force": "1"})


def test_history(engine, api):
    name = f"hist-{uuid.uuid4().hex[:8]}:v1"
    image_id = _import(api, name, {"data": os.urandom(5000)})
    r = api.get(f"/images/{name}/history")
    assert r.status_code == 200
    (entry,) = r.json()
    assert entry["Id"] == image_id and entry["Tags"] == [name]
    assert entry["Comment"] == "Imported from -" and entry["Size"] == 5000
    r = berth(engine, "history", name)
    assert r.returncode == 0
    head, row = r.stdout.splitlines()
    assert head.split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert row.startswith(image_id[7:19]) and "5kB" in row and row.endswith("Imported from -")
    r = engine.docker("history", "--format", "{{.ID}} {{.Size}}", name)
    assert r.returncode == 0 and r.stdout.split()[0] == image_id[7:19], r.stderr
    assert api.get("/images/no-such-image/history").status_code == 404


def test_image_prune_removes_dangling_images_and_orphans(engine, api):
    tag = uuid.uuid4().hex[:8]
    kept = _import(api, f"prune-kept-{tag}:v1", {"k": os.urandom(64)})
    gone = _import(api, f"prune-gone-{tag}:v1", {"g": os.urandom(3000)})
    _import(api, f"prune-gone-{tag}:v1", {"g2": os.urandom(64)})  # the name moves: `gone` dangles
    layer = api.get(f"/images/{gone}/json").json()["RootFS"]["Layers"][0]
    # an orphan, as a crashed pull leaves: a blob no image names
    orphan = os.path.join(engine.data_root, "containerd", "content", "blobs", "sha256", "ab" * 32)
    with open(orphan, "wb") as f:
        f.write(b"left by a failed pull")
    r = berth(engine, "image", "prune", "-f")
    assert r.returncode == 0, r.stderr
    assert f"deleted: {gone}\n" in r.stdout and r.stdout.startswith("Deleted Images:\n")
    assert r.stdout.splitlines()[-1].startswith("Total reclaimed space: ")
    assert not os.path.exists(orphan)
    assert layer[7:] not in _committed(engine) and gone[7:] not in _blobs(engine)
    assert api.get(f"/images/{kept}/json").status_code == 200
    # dangling=false (prune -a): every image no container uses, tags and all
    r = api.post("/images/prune", params={"filters": json.dumps({"dangling": ["false"],
                                                                 "label": ["never-set"]})})
    assert r.json() == {"ImagesDeleted": None, "SpaceReclaimed": 0}
    r = engine.docker("image", "prune", "-f")
    assert r.returncode == 0 and "Total reclaimed space: " in r.stdout, r.stderr
    assert api.delete(f"/images/prune-kept-{tag}:v1").status_code == 200
