"""docker commit: a container's changes (new files, deletions as whiteouts, an opaque
directory) become a layer over its image, through berth's CLI, the docker CLI and the API."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import uuid

from tests.build.conftest import berth


def _run(api, cmd: list[str]) -> str:
    r = api.post("/containers/create", json={"Image": "busybox", "Cmd": cmd})
    assert r.status_code == 201, r.text
    cid = r.json()["Id"]
    assert api.post(f"/containers/{cid}/start").status_code == 204
    assert api.post(f"/containers/{cid}/wait").json()["StatusCode"] == 0
    return cid


def _layer_members(engine, image_id: str) -> dict[str, tarfile.TarInfo]:
    """The top layer's tar entries, read from the content store."""
    root = os.path.join(engine.data_root, "containerd", "content", "blobs", "sha256")
    with engine.client() as c:
        diff_id = c.get(f"/images/{image_id}/json").json()["RootFS"]["Layers"][-1]
    for name in os.listdir(root):
        with open(os.path.join(root, name), "rb") as f:
            data = f.read()
        if data[:2] != b"\x1f\x8b":
            continue
        raw = gzip.decompress(data)
        import hashlib

        if "sha256:" + hashlib.sha256(raw).hexdigest() == diff_id:
            with tarfile.open(fileobj=io.BytesIO(raw)) as t:
                return {m.name: m for m in t.getmembers()}
    raise AssertionError(f"no blob with diff id {diff_id}")


def test_commit_api_whiteouts_and_config(engine, api):
    cid = _run(api, ["sh", "-c", "echo hi > /made.txt && rm /bin/ls && touch /home/old && rm -rf /home && "
                                 "mkdir /home && echo new > /home/only"])
    name = f"commit-{uuid.uuid4().hex[:8]}"
    r = api.post("/commit", params={"container": cid, "repo": name, "tag": "v1", "comment": "a message",
                                    "author": "Me <me@x>", "changes": ["ENV A=b", "CMD [\"cat\", \"/made.txt\"]"]})
    assert r.status_code == 201, r.text
    image_id = r.json()["Id"]
    img = api.get(f"/images/{name}:v1/json").json()
    assert img["Id"] == image_id
    assert img["Author"] == "Me <me@x>" and img["Comment"] == "a message"
    assert img["Config"]["Cmd"] == ["cat", "/made.txt"]
    assert "A=b" in img["Config"]["Env"]
    base = api.get("/images/busybox/json").json()
    assert img["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
    members = _layer_members(engine, image_id)
    assert "made.txt" in members and members["made.txt"].size == 3
    assert "bin/.wh.ls" in members
    assert "home/.wh..wh..opq" in members and "home/only" in members
    # the image runs: the deleted file is gone, the new one there
    out = engine.docker("run", "--rm", f"{name}:v1")
    assert out.returncode == 0 and out.stdout == "hi\n", out.stderr
    out = engine.docker("run", "--rm", f"{name}:v1", "ls", "/bin/ls")
    assert out.returncode != 0
    hist = api.get(f"/images/{image_id}/history").json()
    assert hist[0]["Comment"] == "a message"
    api.delete(f"/containers/{cid}")


def test_commit_with_docker_and_berth_cli(engine, api):
    cid = _run(api, ["sh", "-c", "echo cli > /cli.txt"])
    name = f"commit-cli-{uuid.uuid4().hex[:8]}"
    r = engine.docker("commit", "-m", "via docker", "-c", "LABEL a=b", cid, f"{name}:d")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("sha256:")
    img = json.loads(engine.docker("image", "inspect", f"{name}:d").stdout)[0]
    assert img["Config"]["Labels"]["a"] == "b"
    r = berth(engine, "commit", "-a", "berth", cid, f"{name}:b")
    assert r.returncode == 0, r.stderr
    assert api.get(f"/images/{name}:b/json").json()["Author"] == "berth"
    out = engine.docker("run", "--rm", f"{name}:b", "cat", "/cli.txt")
    assert out.stdout == "cli\n"
    r = engine.docker("commit", "nosuchcontainer")
    assert r.returncode == 1 and "No such container: nosuchcontainer" in r.stderr
    api.delete(f"/containers/{cid}")
