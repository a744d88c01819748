"""The layer extractor on its own: malicious tars of every kind are refused with a
clear error and write nothing outside the snapshot; good ones keep what they carry."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import stat
import tempfile
import uuid

import pytest

from berth.containerd.diff import apply_layer
from berth.containerd.errors import InvalidArgument
from tests.images import oci


@pytest.fixture
def work():
    d = tempfile.mkdtemp(prefix="berth-unpack-")
    os.makedirs(os.path.join(d, "fs"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _apply(work: str, entries: list[tuple], has_parent: bool = False, how: str = "tar", **kw) -> str:
    blob = os.path.join(work, "blob")
    with open(blob, "wb") as f:
        f.write(oci.compress(oci.tar_bytes(entries), how))
    return apply_layer(blob, os.path.join(work, "fs"), has_parent, **kw)


@pytest.fixture
def outside():
    """A path outside the snapshot that a malicious layer aims at; it must never appear."""
    d = tempfile.mkdtemp(prefix="berth-outside-")
    target = os.path.join(d, f"evil-{uuid.uuid4().hex[:6]}")
    try:
        yield target
        assert not os.path.lexists(target), "a layer wrote outside its snapshot"
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _ups(work: str) -> str:
    return "../" * (os.path.join(work, "fs").count("/") + 2)


def test_dotdot_entries_are_refused(work, outside):
    with pytest.raises(InvalidArgument, match=r"leaves the layer"):
        _apply(work, [("ok", "file", b"x"), (_ups(work) + outside.lstrip("/"), "file", b"evil")])


def test_absolute_entries_are_refused(work, outside):
    with pytest.raises(InvalidArgument, match=r"absolute path"):
        _apply(work, [(outside, "file", b"evil")])


def test_a_symlink_out_of_the_layer_is_refused(work, outside):
    with pytest.raises(InvalidArgument, match=r"symlink 'escape' -> .* leaves the layer"):
        _apply(work, [("escape", "sym", _ups(work) + os.path.dirname(outside).lstrip("/")),
                      (f"escape/{os.path.basename(outside)}", "file", b"evil")])


def test_writing_through_an_absolute_symlink_stays_inside(work, outside):
    # an absolute target is the container's own path: resolved inside the snapshot
    top = os.path.dirname(outside)
    _apply(work, [(top.lstrip("/"), "dir"), ("dir", "sym", top), (f"dir/{os.path.basename(outside)}", "file", b"in")])
    inside = os.path.join(work, "fs", outside.lstrip("/"))
    with open(inside, "rb") as f:
        assert f.read() == b"in"


def test_a_hardlink_out_of_the_layer_is_refused(work, outside):
    with pytest.raises(InvalidArgument, match=r"hard link 'h' -> .* leaves the layer"):
        _apply(work, [("h", "lnk", _ups(work) + "etc/passwd")])


def test_a_hardlink_to_a_host_file_by_absolute_name_is_refused(work):
    with pytest.raises(InvalidArgument, match=r"target is not in the layer"):
        _apply(work, [("h", "lnk", "/etc/passwd")])
    assert os.stat("/etc/passwd").st_nlink == 1


def test_a_hardlink_through_a_symlink_stays_inside(work):
    with pytest.raises(InvalidArgument, match=r"unpack layer: entry 'h'"):
        _apply(work, [("etc", "sym", "/etc"), ("h", "lnk", "etc/passwd")])
    assert os.stat("/etc/passwd").st_nlink == 1


def test_device_nodes_only_where_allowed(work):
    with pytest.raises(InvalidArgument, match=r"device node 'dev/null' is not allowed"):
        _apply(work, [("dev/null", "chr")], allow_devices=False)
    shutil.rmtree(os.path.join(work, "fs"))
    os.makedirs(os.path.join(work, "fs"))
    _apply(work, [("dev/null", "chr")], allow_devices=True)
    st = os.lstat(os.path.join(work, "fs", "dev", "null"))
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3


@pytest.mark.parametrize("how", ["tar", "gzip", "zstd"])
def test_a_good_layer_keeps_owners_modes_links_and_times(work, how):
    entries = [("bin", "dir"), ("bin/tool", "file", b"#!/bin/sh\n", 0o4755), ("bin/alias", "sym", "tool"),
               ("bin/hard", "lnk", "bin/tool"), ("tmp", "dir")]
    diff_id = _apply(work, entries, how=how)
    assert diff_id == "sha256:" + hashlib.sha256(oci.tar_bytes(entries)).hexdigest()
    fs = os.path.join(work, "fs")
    st = os.stat(os.path.join(fs, "bin/tool"))
    assert stat.S_IMODE(st.st_mode) == 0o4755 and st.st_mtime == 1_700_000_000 and st.st_nlink == 2
    assert os.readlink(os.path.join(fs, "bin/alias")) == "tool"
    assert os.stat(os.path.join(fs, "bin")).st_mtime == 1_700_000_000


def test_owners_and_xattrs_are_kept(work):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("f")
        info.size, info.uid, info.gid, info.mode = 1, 1234, 5678, 0o640
        info.pax_headers = {"SCHILY.xattr.user.note": "kept", "SCHILY.xattr.trusted.overlay.opaque": "y"}
        tar.addfile(info, io.BytesIO(b"x"))
    with open(os.path.join(work, "blob"), "wb") as f:
        f.write(buf.getvalue())
    apply_layer(os.path.join(work, "blob"), os.path.join(work, "fs"), False)
    path = os.path.join(work, "fs", "f")
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 5678, 0o640)
    assert os.getxattr(path, "user.note") == b"kept"
    assert "trusted.overlay.opaque" not in os.listxattr(path)  # overlayfs' own: a layer may not forge it


def test_whiteouts_become_overlayfs_whiteouts_above_a_parent(work):
    _apply(work, [("etc/.wh.gone", "file", b""), ("var/.wh..wh..opq", "file", b""), ("var/new", "file", b"n")],
           has_parent=True)
    fs = os.path.join(work, "fs")
    st = os.lstat(os.path.join(fs, "etc/gone"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(os.path.join(fs, "var"), "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(os.path.join(fs, "var"))) == ["new"]


def test_whiteouts_in_a_base_layer_are_dropped(work):
    _apply(work, [("etc/.wh.gone", "file", b""), ("etc/kept", "file", b"k")])
    assert os.listdir(os.path.join(work, "fs", "etc")) == ["kept"]


def test_a_truncated_or_corrupt_stream_is_an_error(work):
    data = gzip.compress(oci.tar_bytes([("f", "file", os.urandom(100000))]))
    with open(os.path.join(work, "blob"), "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(InvalidArgument, match=r"unpack layer"):
        apply_layer(os.path.join(work, "blob"), os.path.join(work, "fs"), False)
