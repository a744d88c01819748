"""containerd/diff/changes.py on real trees: whiteouts (0:0 char devices), opaque
directories (trusted.overlay.opaque), hard links, copied-up directories, the runtime's
mountpoints, and a lower layer's symlink that points at the host."""

from __future__ import annotations

import os

from berth.containerd.diff.changes import usage


def _tree(tmp_path) -> tuple[str, list[str]]:  # noqa: ANN001
    top, base, upper = tmp_path / "top", tmp_path / "base", tmp_path / "upper"
    for d in ("etc", "usr/lib", "var/cache", "srv"):
        (base / d).mkdir(parents=True)
    (base / "etc/motd").write_text("hello\n")
    (base / "var/cache/old").write_text("x")
    (top / "srv").mkdir(parents=True)
    os.symlink("/etc", top / "hostetc")  # absolute: the host's /etc if followed
    (upper / "usr/lib").mkdir(parents=True)
    os.utime(upper / "usr", ns=(0, os.stat(base / "usr").st_mtime_ns))  # copied up, unchanged
    (upper / "usr/lib/new.so").write_bytes(b"\0" * 3000)
    os.link(upper / "usr/lib/new.so", upper / "usr/lib/again.so")
    (upper / "etc").mkdir()
    os.mknod(upper / "etc/motd", 0o600 | 0o020000, os.makedev(0, 0))  # the whiteout of a deleted file
    (upper / "etc/hosts").touch()  # the runtime's mountpoint
    (upper / "var/cache").mkdir(parents=True)
    os.setxattr(upper / "var/cache", "trusted.overlay.opaque", b"y")  # rm -rf then mkdir
    (upper / "var/cache/fresh").write_text("yy")
    (upper / "hostetc").mkdir()  # replaces the link: not compared with the host's /etc
    (upper / "srv").mkdir()
    (upper / "srv/data").write_text("data")
    return str(upper), [str(top), str(base)]


def test_changes_and_size_as_dockerd(tmp_path) -> None:  # noqa: ANN001
    upper, lowers = _tree(tmp_path)
    got = usage(upper, lowers, with_changes=True)
    assert got.size == 3000 + 2 + 4  # the hard link once, empty files and directories nothing
    assert got.changes == [
        ("/etc", 0), ("/etc/motd", 2),
        ("/hostetc", 0),
        ("/srv", 0), ("/srv/data", 1),
        ("/usr/lib", 0), ("/usr/lib/again.so", 1), ("/usr/lib/new.so", 1),
        ("/var", 0), ("/var/cache", 2), ("/var/cache/fresh", 1),
    ]
    assert usage(upper, lowers, with_changes=False).changes == []


def test_only_the_runtimes_mountpoints_are_no_change(tmp_path) -> None:  # noqa: ANN001
    base, upper = tmp_path / "base", tmp_path / "upper"
    (base / "etc").mkdir(parents=True)
    (upper / "etc").mkdir(parents=True)
    for name in ("hosts", "hostname", "resolv.conf"):
        (upper / "etc" / name).touch()
    (upper / "proc").mkdir()
    assert usage(str(upper), [str(base)], with_changes=True).changes == []
    (upper / "etc/hostname").write_text("written into the layer\n")  # no longer what the runtime made
    assert usage(str(upper), [str(base)], with_changes=True).changes == [("/etc", 0), ("/etc/hostname", 1)]
