"""Images: docker-import of a busybox tar, names, and deletion, through the gRPC API."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile

import grpc
import pytest

from berth.proto import containerd_pb2 as pb
from tests.containerd.conftest import import_image


def _blob(daemon, digest: str) -> bytes:
    with open(os.path.join(daemon.root, "content", "blobs", "sha256", digest.split(":")[1]), "rb") as f:
        return f.read()


def test_import_stores_an_oci_image_whose_id_is_its_config_digest(client, daemon, busybox_tar):
    img = import_image(client, busybox_tar, "busybox", {"Cmd": ["sh"], "Env": ["PATH=/bin"]})

    assert img.names == ["busybox:latest"]
    assert img.id == "sha256:" + hashlib.sha256(img.config).hexdigest()
    assert img.layers == ["sha256:" + hashlib.sha256(busybox_tar).hexdigest()]
    config = json.loads(img.config)
    assert config["os"] == "linux" and config["architecture"]
    assert config["rootfs"] == {"type": "layers", "diff_ids": list(img.layers)}
    assert config["config"] == {"Cmd": ["sh"], "Env": ["PATH=/bin"]}
    assert config["history"][0]["comment"] == "Imported from -"
    assert img.created == config["created"]
    assert img.size > os.path.getsize("/bin/busybox")

    # every blob is on disk under its own digest: manifest → config + layer
    manifest_bytes = _blob(daemon, img.manifest_digest)
    assert "sha256:" + hashlib.sha256(manifest_bytes).hexdigest() == img.manifest_digest
    manifest = json.loads(manifest_bytes)
    assert manifest["config"]["digest"] == img.id
    assert _blob(daemon, img.id) == img.config
    layer = manifest["layers"][0]
    assert _blob(daemon, layer["digest"]) == busybox_tar
    assert layer["size"] == len(busybox_tar)


def test_the_layer_is_unpacked_into_a_committed_snapshot(client, daemon, busybox_tar):
    img = import_image(client, busybox_tar, "unpacked:1")
    fs = os.path.join(daemon.root, "snapshots", "committed", img.layers[0].split(":")[1], "fs")
    st = os.stat(os.path.join(fs, "bin", "busybox"))
    assert stat.S_IMODE(st.st_mode) == stat.S_IMODE(os.stat("/bin/busybox").st_mode)
    assert os.readlink(os.path.join(fs, "bin", "sh")) == "busybox"


def test_gzip_import_keeps_the_compressed_blob_and_the_uncompressed_diff_id(client, daemon, busybox_tar):
    gz = gzip.compress(busybox_tar, compresslevel=1)
    img = import_image(client, gz, "busybox-gz:1")
    assert img.layers == ["sha256:" + hashlib.sha256(busybox_tar).hexdigest()]
    manifest = json.loads(_blob(daemon, img.manifest_digest))
    assert manifest["layers"][0]["mediaType"].endswith("tar+gzip")
    assert manifest["layers"][0]["digest"] == "sha256:" + hashlib.sha256(gz).hexdigest()


def test_get_by_name_id_short_id_and_digest(client, busybox_tar):
    img = import_image(client, busybox_tar, "lookup:v1")
    for ref in ("lookup:v1", img.id, img.id[7:], img.id[7:19], img.manifest_digest):
        assert client.images.Get(pb.GetImageRequest(ref=ref)).id == img.id


def test_list_tag_and_delete_follow_docker_rules(client, busybox_tar):
    img = import_image(client, busybox_tar, "tagme:1")
    tagged = client.images.Tag(pb.TagImageRequest(ref="tagme:1", name="tagme:2"))
    assert sorted(tagged.names) == ["tagme:1", "tagme:2"]
    assert img.id in [i.id for i in client.images.List(pb.ListImagesRequest()).images]

    # an id with two names needs force
    with pytest.raises(grpc.RpcError) as e:
        client.images.Delete(pb.DeleteImageRequest(ref=img.id))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "must be forced" in e.value.details()

    # a name only untags while another name is left
    res = client.images.Delete(pb.DeleteImageRequest(ref="tagme:2"))
    assert list(res.untagged) == ["tagme:2"] and list(res.deleted) == []
    res = client.images.Delete(pb.DeleteImageRequest(ref="tagme:1"))
    assert list(res.untagged) == ["tagme:1"] and list(res.deleted) == [img.id]
    with pytest.raises(grpc.RpcError) as e:
        client.images.Get(pb.GetImageRequest(ref=img.id))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_deleting_the_last_image_of_a_layer_removes_blobs_and_snapshot(client, daemon, busybox_tar):
    data = busybox_tar + b"\0" * 1024  # its own layer digest, shared with no other test
    img = import_image(client, data, "lonely:1")
    manifest = json.loads(_blob(daemon, img.manifest_digest))
    layer = manifest["layers"][0]["digest"]
    client.images.Delete(pb.DeleteImageRequest(ref="lonely:1"))
    blobs = os.listdir(os.path.join(daemon.root, "content", "blobs", "sha256"))
    for digest in (img.manifest_digest, img.id, layer):
        assert digest.split(":")[1] not in blobs
    assert not os.path.exists(os.path.join(daemon.root, "snapshots", "committed", img.layers[0].split(":")[1]))


def test_bad_input_gets_clear_errors(client):
    with pytest.raises(grpc.RpcError) as e:
        import_image(client, b"this is not a tarball" * 100, "bad:1")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        client.images.Get(pb.GetImageRequest(ref="nosuch:1"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert e.value.details() == "image nosuch:1: not found"
    with pytest.raises(grpc.RpcError) as e:
        client.images.Import(iter([pb.ImportRequest(name="x:1", config=b"[1]", chunk=b"x")]))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_tarball_cannot_write_outside_its_layer_through_a_symlink(client, workdir):
    outside = os.path.join(workdir, "outside")
    os.makedirs(outside)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        link = tarfile.TarInfo("escape")
        link.type, link.linkname = tarfile.SYMTYPE, outside
        tar.addfile(link)
        member = tarfile.TarInfo("escape/pwned")
        member.size = 5
        tar.addfile(member, io.BytesIO(b"pwned"))
    with pytest.raises(grpc.RpcError) as e:
        import_image(client, buf.getvalue(), "escape:1")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert os.listdir(outside) == []
    os.rmdir(outside)
