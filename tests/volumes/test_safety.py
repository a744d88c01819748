"""Symlink attacks on mounts, contained: a container path that the image made a symlink
to /etc resolves inside the rootfs (under berth-runc and Debian's runc alike), copy-up
through it copies the image's files, not the host's, and a bind source swapped for a
symlink after berthd resolved it cannot redirect the mount (the source is pinned by fd,
and a symlink that appears in the path is refused)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

import pytest

from berth.daemon.volumes import staging, sysmount
from berth.daemon.volumes.points import MountPoint
from tests.daemon.conftest import Berthd
from tests.volumes.conftest import mounts_under, run

pytestmark = pytest.mark.usefixtures("no_leaks")


def _host_etc_mounts() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if line.split()[4] in ("/etc", "/etc/passwd")]


@pytest.mark.parametrize("runtime", ["berth", "runc"])
def test_a_bind_onto_an_image_symlink_to_etc_lands_inside_the_rootfs(berthd: Berthd, image: str,
                                                                      runtime: str) -> None:
    host = tempfile.mkdtemp(prefix="berth-bind-")
    marker = "berth-escape-" + uuid.uuid4().hex[:8]
    before = _host_etc_mounts()
    try:
        with open(os.path.join(host, "planted"), "w") as f:
            f.write("planted\n")
        done = run(berthd, "run", "--rm", "--runtime", runtime, "-v", f"{host}:/evil", image, "sh", "-c",
                   f"cat /etc/planted; touch /evil/{marker}")
        assert done.stdout == "planted\n"  # the container's own /etc got the bind
        assert os.path.exists(os.path.join(host, marker))
        assert not os.path.exists(os.path.join("/etc", marker))
        assert _host_etc_mounts() == before  # and the host's /etc got nothing
    finally:
        shutil.rmtree(host, ignore_errors=True)
        if os.path.exists(os.path.join("/etc", marker)):
            os.unlink(os.path.join("/etc", marker))


@pytest.mark.parametrize("runtime", ["berth", "runc"])
def test_copy_up_through_an_image_symlink_copies_the_images_files(berthd: Berthd, image: str, runtime: str) -> None:
    vol = "v" + uuid.uuid4().hex[:10]
    run(berthd, "run", "--rm", "--runtime", runtime, "-v", f"{vol}:/evil", image, "true")
    copied = sorted(os.listdir(os.path.join(berthd.data_root, "volumes", vol, "_data")))
    image_etc = run(berthd, "run", "--rm", image, "ls", "/etc").stdout.split()
    # the image's /etc (passwd, group, ...), never the host's (os-release, fstab, ...)
    assert copied and set(copied) <= set(image_etc) | {"hostname", "hosts", "resolv.conf"}
    assert "os-release" not in copied
    run(berthd, "volume", "rm", vol)


def _source(tmp: str) -> tuple[str, MountPoint]:
    src = os.path.join(tmp, "src")
    os.mkdir(src)
    with open(os.path.join(src, "orig"), "w") as f:
        f.write("the directory that was asked for\n")
    return src, MountPoint(type="bind", destination="/x", source=src)


def test_a_pinned_source_keeps_what_was_checked_when_the_path_becomes_a_symlink() -> None:
    tmp = tempfile.mkdtemp(prefix="berth-pin-")
    stage_root = os.path.join(tmp, "stage")
    try:
        src, mp = _source(tmp)
        staging.pin([mp], "c1", stage_root)
        pinned = os.path.join(stage_root, "c1", "0")
        os.rename(src, src + ".moved")
        os.symlink("/etc", src)  # the swap, after berthd's look
        assert os.listdir(pinned) == ["orig"]  # what the runtime mounts is still the checked directory
        staging.unpin("c1", stage_root)
        assert mounts_under(tmp) == [] and not os.path.exists(os.path.join(stage_root, "c1"))
    finally:
        for point in sysmount.mounted_under(tmp):
            sysmount.unmount(point)
        shutil.rmtree(tmp, ignore_errors=True)


def test_a_symlink_swapped_in_between_resolution_and_open_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The window between realpath and the open, made to happen every time: the resolved
    path's directory is replaced by a symlink to /etc just after it was resolved."""
    tmp = tempfile.mkdtemp(prefix="berth-pin-")
    stage_root = os.path.join(tmp, "stage")
    real_realpath = os.path.realpath
    try:
        outer = os.path.join(tmp, "outer")
        os.mkdir(outer)
        src = os.path.join(outer, "src")
        os.mkdir(src)
        mp = MountPoint(type="bind", destination="/x", source=src)

        def resolve_then_swap(path: str) -> str:
            resolved = real_realpath(path)
            os.rename(outer, outer + ".moved")
            os.symlink(outer + ".moved", outer)  # a directory of the path becomes a symlink
            return resolved

        monkeypatch.setattr(staging.os.path, "realpath", resolve_then_swap)
        with pytest.raises(staging.SourceError, match="changed while it was being mounted"):
            staging.pin([mp], "c2", stage_root)
        assert mounts_under(tmp) == [] and not os.path.exists(os.path.join(stage_root, "c2"))
    finally:
        monkeypatch.undo()
        for point in sysmount.mounted_under(tmp):
            sysmount.unmount(point)
        shutil.rmtree(tmp, ignore_errors=True)


def test_a_bind_whose_source_is_replaced_between_starts_follows_no_stale_check(berthd: Berthd) -> None:
    """Between create and start the source became a symlink to another directory: the
    start mounts what the path names then (as dockerd), never a half-checked mix."""
    tmp = tempfile.mkdtemp(prefix="berth-bind-")
    name = "c" + uuid.uuid4().hex[:10]
    try:
        src, other = os.path.join(tmp, "src"), os.path.join(tmp, "other")
        os.mkdir(src)
        os.mkdir(other)
        with open(os.path.join(other, "o"), "w") as f:
            f.write("other\n")
        run(berthd, "create", "--name", name, "-v", f"{src}:/x", "busybox", "ls", "/x")
        os.rmdir(src)
        os.symlink(other, src)
        run(berthd, "start", "-a", name)
        assert run(berthd, "logs", name).stdout == "o\n"
    finally:
        run(berthd, "rm", "-f", name, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
