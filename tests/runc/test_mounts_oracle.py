"""Mounts as the container sees them, the same bundle under runc and berth-runc.

Every bundle here has a private rootfs (the tests set modes in it and mount trees
over it), one per runtime, so that what one runtime leaves cannot help the other.
"""

from __future__ import annotations

import json
import os
from typing import Any

from host import mounts_under


def _tmpfs(destination: str, *options: str) -> dict[str, Any]:
    return {"destination": destination, "type": "tmpfs", "source": "tmpfs", "options": list(options)}


def test_a_tmpfs_takes_the_mode_of_the_directory_it_covers(runtimes, bundle, cid):
    """runc chmods the new tmpfs to the mode of the directory it covers, setuid, setgid
    and sticky bits included, whatever mode= the spec gives; a new directory stays 0755
    from mkdir, and a read-only tmpfs is chmodded before it becomes read-only."""
    modes = {"/covered": 0o7777, "/given": 0o750, "/readonly": 0o2711}
    tmpfs = [_tmpfs("/covered"), _tmpfs("/given", "mode=1777"), _tmpfs("/readonly", "ro"), _tmpfs("/new")]
    script = "stat -c '%n %A %u:%g' /covered /given /readonly /new"
    seen = {}
    for name, rt in runtimes.items():
        b = bundle(["sh", "-c", script], private_rootfs=True,
                   edit=lambda spec: spec["mounts"].extend(tmpfs))
        for path, mode in modes.items():
            os.mkdir(os.path.join(b, "rootfs", path.lstrip("/")))
            os.chmod(os.path.join(b, "rootfs", path.lstrip("/")), mode)
        out = rt("run", "--bundle", b, cid)
        seen[name] = (out.returncode, out.stdout, out.stderr)
    assert seen["berth-runc"] == seen["runc"]
    assert "/covered drwsrwsrwt" in seen["runc"][1]


def test_bind_mounts_over_the_tree_earlier_mounts_made(runtimes, bundle, cid):
    """runc's own mount-order test (tests/integration/mounts.bats): binds nested under
    binds through symlinked sources, then sources inside the tree those made, named by
    host paths inside the rootfs, and the whole tree bound again on /final."""
    seen = {}
    for name, rt in runtimes.items():
        b = bundle(["cat", "/final/x/y/z/z/x/y/z/x/file"], private_rootfs=True)
        src, rootfs = os.path.join(b, "bind-src"), os.path.join(b, "rootfs")
        for sub in ("a/x", "b/y", "c/z"):
            os.makedirs(os.path.join(src, sub))
            with open(os.path.join(src, sub, "file"), "w") as f:
                f.write(sub + "\n")
            os.symlink(sub.split("/")[0], os.path.join(src, "sym-" + sub.split("/")[0]))
        os.makedirs(os.path.join(rootfs, "mnt"))
        os.makedirs(os.path.join(rootfs, "final"))

        def bind(source: str, destination: str, kind: str = "bind") -> dict[str, Any]:
            return {"source": source, "destination": destination, "type": "bind", "options": [kind, "rprivate"]}

        tree = [bind(f"{src}/a", "/mnt"), bind(f"{src}/sym-b", "/mnt/x"), bind(f"{src}/c", "/mnt/x/y"),
                bind(f"{src}/sym-a", "/mnt/x/y/z"),
                bind(f"{rootfs}/mnt/x", f"{rootfs}/mnt/x/y/z/x", "rbind"),
                bind(f"{rootfs}/mnt/x/y", f"{rootfs}/mnt/x/y/z", "rbind"),
                bind(f"{rootfs}/mnt", f"{rootfs}/final", "rbind")]
        with open(os.path.join(b, "config.json")) as f:
            spec = json.load(f)
        spec["mounts"] += tree
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(spec, f)
        out = rt("run", "--bundle", b, cid)
        seen[name] = (out.returncode, out.stdout, out.stderr)
        assert mounts_under(b) == [], name  # the container's mount namespace is gone with it
    assert seen["berth-runc"] == seen["runc"] == (0, "a/x\n", "")


def test_the_cgroup_mount_shows_the_container_its_own_cgroup_in_every_hierarchy(runtimes, bundle, cid):
    """cgroup v1: each hierarchy under /sys/fs/cgroup is the container's own cgroup,
    the named systemd one too (else an engine nested in the container makes its cgroups
    at the host's top there, and they outlive the container): no child cgroups in any."""
    if not os.path.isdir("/sys/fs/cgroup/systemd"):
        return  # a v2 host: one hierarchy, checked by the cgroup tests
    script = "for h in /sys/fs/cgroup/*/; do echo $h $(find $h -mindepth 1 -maxdepth 1 -type d | wc -l); done"
    seen = {}
    for name, rt in runtimes.items():
        out = rt("run", "--bundle", bundle(["sh", "-c", script]), cid)
        seen[name] = (out.returncode, out.stdout, out.stderr)
    assert seen["berth-runc"] == seen["runc"]
    assert "/sys/fs/cgroup/systemd/ 0\n" in seen["runc"][1]
