"""The same bundle under Debian's runc and under berth-runc leaves the same cgroup files.

Each runtime creates its own copy of the bundle (each with its own random
cgroupsPath), the test reads the host's cgroup files of both containers and compares
them; the fixtures force-delete the containers, and the test checks their cgroups went.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from berth.runc import cgroups

pytestmark = pytest.mark.skipif(cgroups.is_unified(), reason="the file list below is cgroup v1's")

MiB = 1 << 20
ROOT = "/sys/fs/cgroup"
FILES = (
    "memory/memory.limit_in_bytes", "memory/memory.memsw.limit_in_bytes", "memory/memory.soft_limit_in_bytes",
    "memory/memory.swappiness", "memory/memory.oom_control",
    "cpu/cpu.shares", "cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us",
    "cpuset/cpuset.cpus", "cpuset/cpuset.mems",
    "pids/pids.max", "freezer/freezer.state",
)
HIERARCHIES = ("blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids", "systemd", "unified")

RESOURCE_CASES = {
    "defaults": {},
    "limits": {
        "memory": {"limit": 64 * MiB, "reservation": 32 * MiB, "swap": 128 * MiB},
        "cpu": {"shares": 512, "quota": 25000, "period": 50000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 64},
    },
    "unlimited": {"memory": {"limit": -1}, "cpu": {"quota": -1}, "pids": {"limit": -1}},
    "swap-equal-to-memory": {"memory": {"limit": 32 * MiB, "swap": 32 * MiB, "swappiness": 10,
                                        "disableOOMKiller": True}},
    "device-rules": {"devices": [{"allow": False, "access": "rwm"},
                                 {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"},
                                 {"allow": False, "type": "c", "major": 1, "minor": 9, "access": "w"}]},
}


def _cgroup_of(bundle_dir: str) -> str:
    with open(os.path.join(bundle_dir, "config.json")) as f:
        return json.load(f)["linux"]["cgroupsPath"].lstrip("/")


def _host_view(cgroup: str) -> dict[str, Any]:
    """What the host shows for a container's cgroup: which hierarchies have it, its files."""
    view: dict[str, Any] = {"in": [h for h in HIERARCHIES if os.path.isdir(f"{ROOT}/{h}/{cgroup}")]}
    for rel in FILES:
        ctrl, name = rel.split("/")
        with open(f"{ROOT}/{ctrl}/{cgroup}/{name}") as f:
            view[rel] = f.read()
    with open(f"{ROOT}/devices/{cgroup}/devices.list") as f:
        view["devices.list"] = sorted(f.read().splitlines())
    return view


def _with_resources(extra: dict[str, Any]):
    def edit(spec: dict[str, Any]) -> None:
        resources = spec["linux"].setdefault("resources", {})
        if "devices" in extra:
            resources["devices"] = []
        resources.update(json.loads(json.dumps(extra)))
    return edit


@pytest.mark.parametrize("case", list(RESOURCE_CASES))
def test_created_container_has_the_same_cgroup_files_as_under_runc(case, runtimes, bundle, cid):
    views = {}
    for name, rt in runtimes.items():
        b = bundle(["sleep", "1000"], edit=_with_resources(RESOURCE_CASES[case]))
        rt("create", "--bundle", b, cid, check=True)
        views[name] = _host_view(_cgroup_of(b))
        rt("delete", "--force", cid, check=True)
        assert [h for h in HIERARCHIES if os.path.isdir(f"{ROOT}/{h}/{_cgroup_of(b)}")] == [], name
    assert views["berth-runc"] == views["runc"]


def test_pause_freezes_the_same_way(runtimes, bundle, cid):
    seen = {}
    for name, rt in runtimes.items():
        b = bundle(["sleep", "1000"])
        rt("run", "-d", "--bundle", b, cid, check=True)
        rt("pause", cid, check=True)
        frozen = open(f"{ROOT}/freezer/{_cgroup_of(b)}/freezer.state").read()
        status = rt.state(cid)["status"]
        rt("resume", cid, check=True)
        thawed = open(f"{ROOT}/freezer/{_cgroup_of(b)}/freezer.state").read()
        seen[name] = (frozen, status, thawed)
    assert seen["berth-runc"] == seen["runc"] == ("FROZEN\n", "paused", "THAWED\n")


def test_update_changes_the_limits_the_same_way(runtimes, bundle, cid, tmp_path):
    new = {"memory": {"limit": 256 * MiB, "swap": 512 * MiB}, "cpu": {"shares": 300, "quota": 30000},
           "pids": {"limit": 99}}
    rfile = tmp_path / "r.json"
    rfile.write_text(json.dumps(new))
    views = {}
    for name, rt in runtimes.items():
        b = bundle(["sleep", "1000"], edit=_with_resources(RESOURCE_CASES["limits"]))
        rt("run", "-d", "--bundle", b, cid, check=True)
        rt("update", "-r", str(rfile), cid, check=True)
        views[name] = _host_view(_cgroup_of(b))
    assert views["berth-runc"] == views["runc"]
    assert views["runc"]["memory/memory.limit_in_bytes"] == f"{256 * MiB}\n"


def test_events_stats_have_the_same_shape(runtimes, bundle, cid):
    shapes = {}
    for name, rt in runtimes.items():
        b = bundle(["sleep", "1000"], edit=_with_resources({"pids": {"limit": 20}}))
        rt("run", "-d", "--bundle", b, cid, check=True)
        out = rt("events", "--stats", cid, check=True).stdout
        event = json.loads(out.splitlines()[0])
        data = event["data"]
        shapes[name] = (event["type"], sorted(data), sorted(data["memory"]), sorted(data["memory"]["usage"]),
                        data["pids"], sorted(data["cpuset"]))
    assert shapes["berth-runc"] == shapes["runc"]
