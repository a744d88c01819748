"""After a hundred containers come and go, the host looks as it did before."""

from __future__ import annotations

import json
import os

from berth import runc


def _mounts(*prefixes: str) -> list[str]:
    """Host mounts under our own directories (other tests on this host mount elsewhere)."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return sorted(p for p in points if p.startswith(prefixes))


def _cgroups(name: str) -> list[str]:
    return [c for c in os.listdir("/sys/fs/cgroup") if os.path.exists(os.path.join("/sys/fs/cgroup", c, name))]


def _children() -> set[int]:
    me = str(os.getpid())
    kids = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    data = f.read()
            except OSError:
                continue
            if data[data.rfind(")") + 2:].split()[1] == me:
                kids.add(int(pid))
    return kids


def test_hundred_containers_leave_nothing(bundle, tmp_path):
    root = str(tmp_path / "state")
    b = bundle(["sleep", "1000"])
    with open(os.path.join(b, "config.json")) as f:
        cgroup = json.load(f)["linux"]["cgroupsPath"].lstrip("/")
    mine = (os.path.dirname(b), str(tmp_path))
    mounts, kids = _mounts(*mine), _children()
    for i in range(100):
        cid = f"leak-{i}"
        pid = runc.create(root, cid, b)
        runc.start(root, cid)
        assert runc.state(root, cid)["status"] == "running"
        runc.kill(root, cid, "KILL")
        os.waitpid(pid, 0)
        runc.delete(root, cid)
    assert os.listdir(root) == []
    assert _mounts(*mine) == mounts
    assert _cgroups(cgroup) == []
    assert _children() == kids


def test_failed_creates_leave_nothing(bundle, tmp_path):
    root = str(tmp_path / "state")
    b = bundle(["nosuch"])
    with open(os.path.join(b, "config.json")) as f:
        cgroup = json.load(f)["linux"]["cgroupsPath"].lstrip("/")
    mine = (os.path.dirname(b), str(tmp_path))
    mounts, kids = _mounts(*mine), _children()
    for i in range(20):
        try:
            runc.create(root, f"bad-{i}", b)
        except runc.RuncError:
            pass
        else:
            raise AssertionError("create of a missing command succeeded")
    assert os.listdir(root) == []
    assert _mounts(*mine) == mounts
    assert _cgroups(cgroup) == []
    assert _children() == kids
