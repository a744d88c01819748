"""Bad input from a registry: a clear error, a non-zero exit, nothing stored under the
digest, nothing half-written left in the store, nothing outside the data root touched."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

import pytest

from tests.images import oci
from tests.images.conftest import berth, pull_lines, unique_image


def _content(engine) -> str:
    return os.path.join(engine.data_root, "containerd", "content")


def _stored(engine, digest: str) -> bool:
    return os.path.exists(os.path.join(_content(engine), "blobs", "sha256", digest[7:]))


def _layer_digests(layout: oci.Layout, desc: dict) -> list[str]:
    import json

    with open(os.path.join(layout.path, "blobs", "sha256", desc["digest"][7:])) as f:
        return [layer["digest"] for layer in json.load(f)["layers"]]


def _assert_clean(engine) -> None:
    assert os.listdir(os.path.join(_content(engine), "ingest")) == []
    assert os.listdir(os.path.join(engine.data_root, "containerd", "snapshots", "tmp")) == []


@pytest.mark.parametrize("fault", ["corrupt", "truncate"])
def test_a_blob_that_is_not_what_the_manifest_says(engine, registry, proxy, layout, fault):
    ref, desc = unique_image(layout, registry.host, f"fault-{fault}")
    bad = _layer_digests(layout, desc)[0]
    getattr(proxy, fault).add(bad)
    via_proxy = ref.replace(registry.host, proxy.host)
    r = berth(engine, "pull", via_proxy)
    assert r.returncode == 1
    if fault == "corrupt":
        assert f"filesystem layer verification failed for digest {bad}" in r.stderr
    else:
        assert f"failed to download {bad}" in r.stderr
    assert not _stored(engine, bad)
    _assert_clean(engine)
    assert berth(engine, "image", "inspect", via_proxy).returncode == 1
    getattr(proxy, fault).discard(bad)  # the registry mends: the same pull now works
    r = berth(engine, "pull", via_proxy)
    assert r.returncode == 0, r.stderr
    assert _stored(engine, bad)


def test_the_api_reports_a_failed_layer_inside_the_stream(api, engine, registry, proxy, layout):
    ref, desc = unique_image(layout, registry.host, "fault-api")
    bad = _layer_digests(layout, desc)[1]
    proxy.corrupt.add(bad)
    status, msgs = pull_lines(api, ref.replace(registry.host, proxy.host))
    assert status == 200  # the stream had begun: the error is its last message, as docker's
    text = f"filesystem layer verification failed for digest {bad}"
    assert msgs[-1] == {"errorDetail": {"message": text}, "error": text}


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink"])
def test_a_malicious_layer_is_refused(engine, registry, layout, kind):
    outside_dir = tempfile.mkdtemp(prefix="berth-outside-")
    target = os.path.join(outside_dir, f"evil-{uuid.uuid4().hex[:6]}")
    ups = "../" * 40
    entries = {
        "dotdot": [(ups + target.lstrip("/"), "file", b"evil")],
        "absolute": [(target, "file", b"evil")],
        "symlink": [("esc", "sym", ups + outside_dir.lstrip("/")), (f"esc/{os.path.basename(target)}", "file", b"e")],
        "hardlink": [("h", "lnk", ups + "etc/shadow")],
    }[kind]
    evil = oci.Layer(oci.tar_bytes(entries), "gzip")
    try:
        ref, desc = unique_image(layout, registry.host, f"evil-{kind}", extra=[evil])
        r = berth(engine, "pull", ref)
        assert r.returncode == 1
        assert "unpack layer" in r.stderr and "leaves the layer" in r.stderr or "absolute path" in r.stderr, r.stderr
        assert not os.path.lexists(target)
        assert os.stat("/etc/shadow").st_nlink == 1
        assert not _stored(engine, _layer_digests(layout, desc)[-1])  # not kept under its digest
        _assert_clean(engine)
        r = berth(engine, "run", "--rm", ref)
        assert r.returncode == 125 and "Unable to find image" in r.stderr
    finally:
        shutil.rmtree(outside_dir, ignore_errors=True)


def test_a_config_whose_diff_ids_lie(engine, registry, layout):
    layer = oci.Layer(oci.tar_bytes(oci.busybox_entries("liar")), "gzip")
    desc = layout.image([layer], ["true"], diff_ids=["sha256:" + "1" * 64])
    repo = f"liar-{uuid.uuid4().hex[:6]}"
    layout.tag(desc, repo)
    oci.push(layout, repo, f"{registry.host}/{repo}:v1")
    r = berth(engine, "pull", f"{registry.host}/{repo}:v1")
    assert r.returncode == 1
    assert "diff id mismatch" in r.stderr
    assert not _stored(engine, _layer_digests(layout, desc)[0])
    _assert_clean(engine)
