"""The device cgroup denies, seen from inside the container as an attacker would try it.

Issue 7 reported /dev/kmsg writable under a deny-all rule. A container has no
/dev/kmsg node of its own, so `echo x > /dev/kmsg` makes a plain file on the /dev
tmpfs, under runc as under berth-runc: that is the first test. A real node (the
host's /dev/kmsg bound in, or one made with mknod inside) is refused with EPERM by
both runtimes, on cgroup v1 (devices.deny/allow) and on v2 (the eBPF program).

This host is hybrid: containers land on v1. The v2 runs go through a wrapper that
gives the runtime a mount namespace of its own where /sys/fs/cgroup is the cgroup2
hierarchy, so runc and berth-runc both take their v2 path, as on a v2-only host.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, Iterator

import pytest

from berth.runc import cgroups
from host import cgroup_dirs, free_char_major
from tests.runc.conftest import RUNTIMES, Runtime

UNIFIED = "/sys/fs/cgroup/unified"
_V2_VIEW = """#!/bin/sh
# {binary}, in a mount namespace of its own where /sys/fs/cgroup is the cgroup2 hierarchy
exec unshare --mount --propagation private sh -c \\
    'umount -l /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$@"' sh {binary} "$@"
"""


def _binary(name: str, view: str, base: str) -> str:
    """The runtime's binary for a cgroup view: itself where the host has it, else the v2 wrapper."""
    native = "v2" if cgroups.is_unified() else "v1"
    if view == native:
        return RUNTIMES[name]
    if view == "v1" or not cgroups.is_unified(UNIFIED):
        pytest.skip(f"no cgroup {view} hierarchy on this host")
    path = os.path.join(base, f"{name}-v2-view")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(_V2_VIEW.format(binary=RUNTIMES[name]))
        os.chmod(path, 0o755)
    return path


@pytest.fixture(params=[(rt, view) for view in ("v1", "v2") for rt in RUNTIMES], ids=lambda p: f"{p[0]}-{p[1]}")
def viewed(request: pytest.FixtureRequest, _runc_base: str) -> Iterator[Runtime]:
    """runc and berth-runc, each on cgroup v1 and on v2, with a private --root."""
    name, view = request.param
    rt = Runtime(name, _binary(name, view, _runc_base), os.path.join(_runc_base, f"root-{name}-{uuid.uuid4().hex[:8]}"))
    os.makedirs(rt.root)
    yield rt
    rt.cleanup()


def _cgroups_path(bundle_dir: str) -> str:
    with open(os.path.join(bundle_dir, "config.json")) as f:
        return json.load(f)["linux"]["cgroupsPath"]


def _deny_all_with_nodes(spec: dict[str, Any]) -> None:
    """Deny all (and nothing else allowed by the spec); the host's /dev/kmsg bound in; CAP_MKNOD."""
    spec["linux"].setdefault("resources", {})["devices"] = [{"allow": False, "access": "rwm"}]
    spec["mounts"].append({"destination": "/dev/kmsg", "type": "bind", "source": "/dev/kmsg", "options": ["bind"]})
    for caps in spec["process"]["capabilities"].values():
        caps.append("CAP_MKNOD")


ATTACK = """exec 2>&1
test -c /dev/kmsg && echo kmsg-is-a-node
echo x > /dev/kmsg || echo write-refused
head -c1 /dev/kmsg >/dev/null || echo read-refused
mknod /dev/made c 1 11 && echo made
echo x > /dev/made || echo write-refused
head -c1 /dev/made >/dev/null || echo read-refused
echo x > /dev/null && head -c1 /dev/zero >/dev/null && echo defaults-ok
"""


def test_a_real_node_is_refused_under_deny_all(viewed, bundle, cid):
    b = bundle(["sh", "-c", ATTACK], edit=_deny_all_with_nodes)
    out = viewed("run", "--bundle", b, cid)
    assert (out.returncode, out.stdout.splitlines()) == (0, [
        "kmsg-is-a-node",
        "sh: can't create /dev/kmsg: Operation not permitted", "write-refused",
        "head: /dev/kmsg: Operation not permitted", "read-refused",
        "made",  # runc allows mknod of any node ("c *:* m"): it is the open that is refused
        "sh: can't create /dev/made: Operation not permitted", "write-refused",
        "head: /dev/made: Operation not permitted", "read-refused",
        "defaults-ok",  # the nodes runc always allows stay usable
    ]), out.stderr
    assert cgroup_dirs(_cgroups_path(b)) == []


def test_without_a_node_dev_kmsg_is_a_plain_file_on_the_dev_tmpfs(runtime, bundle, cid):
    """What the issue saw: no node to deny, the shell makes a file (under runc too)."""
    script = "echo x > /dev/kmsg && test -f /dev/kmsg && cat /dev/kmsg && ls /dev | grep -c kmsg"
    out = runtime("run", "--bundle", bundle(["sh", "-c", script]), cid)
    assert (out.returncode, out.stdout, out.stderr) == (0, "x\n1\n", "")


def test_update_of_device_rules_takes_effect_on_v2(bundle, cid, tmp_path, _runc_base):
    """berth-runc's update moves a running container's eBPF program (v1: test_devices.py).

    Debian's runc 1.1.5 takes no `devices` from `update -r` (it keeps the old rules,
    on v1 and v2 alike), so runc is no oracle here: issue 7 asks for the rules to apply.
    """
    major = free_char_major()
    if major is None:
        pytest.skip("no free experimental char major on this host")
    rt = Runtime("berth-runc", _binary("berth-runc", "v2", _runc_base), str(tmp_path / "root"))
    probe = str(tmp_path / "probe")
    os.mknod(probe, 0o20666, os.makedev(major, 0))  # no driver: ENXIO when allowed, EPERM when not

    def edit(spec: dict[str, Any]) -> None:
        spec["mounts"].append({"destination": "/dev/probe", "type": "bind", "source": probe, "options": ["bind"]})

    b = bundle(["sleep", "1000"], edit=edit)
    deny = [{"allow": False, "access": "rwm"}]
    allow = deny + [{"allow": True, "type": "c", "major": major, "minor": 0, "access": "rw"}]
    seen = []
    try:
        rt("run", "-d", "--bundle", b, cid, check=True)
        for rules in (None, allow, deny, allow):
            if rules is not None:
                (tmp_path / "r.json").write_text(json.dumps({"devices": rules}))
                rt("update", "-r", str(tmp_path / "r.json"), cid, check=True)
            out = rt("exec", cid, "sh", "-c", "exec 2>&1; exec 3</dev/probe; echo x > /dev/null && echo null-ok")
            seen.append(out.stdout.strip().rsplit(": ", 1)[-1])
    finally:
        rt.cleanup()
    assert seen == ["Operation not permitted", "No such device or address", "Operation not permitted",
                    "No such device or address"]
    assert cgroup_dirs(_cgroups_path(b)) == []
