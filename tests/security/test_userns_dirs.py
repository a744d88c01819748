"""--userns-remap's container dirs: the containers dir and a container's own go to
root:<remapped gid> 0710 and its hostname/hosts/resolv.conf to the remapped root, each
changed only when it is not so already (a create does not chown the containers dir that
every earlier create already gave the remapped group)."""

from __future__ import annotations

import os

from berth.daemon.security.userns import IDMap, Remap, own_container_dir

_REMAP = Remap("dockremap", "dockremap", [IDMap(0, 231072, 65536)], [IDMap(0, 231072, 65536)])


def _ctimes(*paths: str) -> list[int]:
    return [os.stat(p).st_ctime_ns for p in paths]


def test_the_dirs_are_chowned_once(tmp_path):
    cdir = tmp_path / "containers" / "c1"
    cdir.mkdir(parents=True)
    for name in ("hostname", "hosts", "resolv.conf"):
        (cdir / name).write_text("x\n")
    own_container_dir(str(cdir), {}, _REMAP)
    assert [(os.stat(p).st_uid, os.stat(p).st_gid) for p in (cdir.parent, cdir, cdir / "hosts")] == [
        (0, 231072), (0, 231072), (231072, 231072)]
    paths = [str(p) for p in (cdir.parent, cdir, cdir / "hostname", cdir / "hosts", cdir / "resolv.conf")]
    before = _ctimes(*paths)
    own_container_dir(str(cdir), {}, _REMAP)  # already so: no chown (a chown would change the ctimes)
    assert _ctimes(*paths) == before
    own_container_dir(str(cdir), {"UsernsMode": "host"}, _REMAP)  # opted out: left alone
    assert _ctimes(*paths) == before
