"""The cgroup verbs as a user drives them: update's command line, exec into a paused
container, a cgroup found frozen at create. Each story runs the same bundle under
runc (the oracle) and berth-runc and compares what the user sees: exit status, the
log lines (time stripped), the host's cgroup files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from typing import Any

import pytest

from berth.runc import cgroups
from host import cgroup_dirs
from tests.runc.test_cgroups_oracle import RESOURCE_CASES, _cgroup_of, _host_view, _with_resources

v1_only = pytest.mark.skipif(cgroups.is_unified(), reason="the host files compared are cgroup v1's")


def _said(out: subprocess.CompletedProcess, cgroup: str = "") -> str:
    """The log lines a user reads, without their time and with the cgroup's random name as CG."""
    text = re.sub(r'time="[^"]*" ', "", out.stderr)
    if cgroup:
        text = text.replace(cgroup, "CG")
    return "\n".join(line for line in text.splitlines() if "level=" in line)


# Each: the resources the container starts with, then one `update` command line after another
# ("ID" is the container, "R" a -r file). Flags after the id are runc's own usage.
UPDATES: dict[str, tuple[str, list[list[str]]]] = {
    "flags-after-the-id": ("limits", [["ID", "--cpu-period", "900000"]]),
    "cpu-cpuset-memory-pids-together": ("defaults", [["ID", "--cpu-period", "900000", "--cpu-quota", "45000",
                                                      "--cpuset-cpus", "0", "--memory", "300m", "--memory-swap",
                                                      "600m", "--pids-limit", "77", "--cpu-share", "700"]]),
    "quota-then-period": ("limits", [["ID", "--cpu-quota", "30000"], ["--cpu-period", "100000", "ID"]]),
    "memory-swap-then-unlimited": ("limits", [["ID", "--memory", "100m"], ["ID", "--memory-swap", "300m"],
                                              ["ID", "--memory", "-1"]]),
    "memory-above-swap-fails": ("limits", [["ID", "--memory", "300m"]]),
    "kernel-memory-is-ignored": ("defaults", [["ID", "--kernel-memory", "10m", "--pids-limit", "9"]]),
    "resources-file": ("limits", [["-r", "R", "ID"]]),
    "bad-period": ("defaults", [["ID", "--cpu-period", "abc"]]),
    "bad-quota": ("defaults", [["ID", "--cpu-quota", "1.5"]]),
    "bad-memory": ("defaults", [["ID", "--memory", "12x"]]),
}
R_FILE = {"cpu": {"shares": 100, "quota": 20000, "period": 100000, "cpus": "1"},
          "memory": {"limit": 200 << 20, "swap": 400 << 20, "reservation": 50 << 20, "swappiness": 5},
          "pids": {"limit": 33}, "blockIO": {"weight": 200}}


@v1_only
@pytest.mark.parametrize("story", list(UPDATES))
def test_update_as_runc_takes_it(story, runtimes, bundle, cid, tmp_path):
    start, commands = UPDATES[story]
    rfile = tmp_path / "r.json"
    rfile.write_text(json.dumps(R_FILE))
    seen = {}
    for name, rt in runtimes.items():
        b = bundle(["sleep", "1000"], edit=_with_resources(RESOURCE_CASES[start]))
        rt("run", "-d", "--bundle", b, cid, check=True)
        said = []
        for command in commands:
            out = rt("update", *[{"ID": cid, "R": str(rfile)}.get(a, a) for a in command])
            said.append((out.returncode, _said(out, _cgroup_of(b))))
        seen[name] = (said, _host_view(_cgroup_of(b)), rt.state(cid)["status"])
    assert seen["berth-runc"] == seen["runc"]


def test_update_flag_of_the_wrong_type_is_a_usage_error(runtimes, bundle, cid):
    seen = {}
    for name, rt in runtimes.items():
        rt("run", "-d", "--bundle", bundle(["sleep", "1000"]), cid, check=True)
        out = rt("update", cid, "--pids-limit", "x")
        seen[name] = (out.returncode, out.stdout.splitlines()[0], _said(out))
    assert seen["berth-runc"] == seen["runc"] == (
        1, 'Incorrect Usage: invalid value "x" for flag -pids-limit: parse error',
        'level=error msg="invalid value \\"x\\" for flag -pids-limit: parse error"')


def test_flags_after_the_id_move_with_the_word_after_them(runtimes, bundle, cid):
    """urfave's reordering: `kill ID KILL --all` works; an unknown flag stays an argument."""
    seen = {}
    for name, rt in runtimes.items():
        rt("run", "-d", "--bundle", bundle(["sleep", "1000"]), cid, check=True)
        unknown = rt("state", cid, "--bogus")
        killed = rt("kill", cid, "KILL", "--all")
        deleted = rt("delete", cid, "--force")
        seen[name] = (unknown.returncode, _said(unknown).replace(rt.binary, "PROG"),
                      killed.returncode, deleted.returncode, rt.ids())
    assert seen["berth-runc"] == seen["runc"]
    assert seen["runc"][2:] == (0, 0, [])


@v1_only
def test_update_with_device_rules_the_v1_cgroup_cannot_hold_still_applies_the_rest(runtimes, bundle, cid, tmp_path):
    """runc's update takes any device rules (it leaves the device cgroup alone); a hole in
    a wildcard rule cannot be written to devices.list, so berth-runc leaves it too."""
    rfile = tmp_path / "r.json"
    rfile.write_text(json.dumps({"pids": {"limit": 55}, "devices": [
        {"allow": True, "type": "c", "access": "rwm"},
        {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"}]}))
    seen = {}
    for name, rt in runtimes.items():
        b = bundle(["sleep", "1000"], edit=_with_resources(RESOURCE_CASES["device-rules"]))
        rt("run", "-d", "--bundle", b, cid, check=True)
        before = _host_view(_cgroup_of(b))["devices.list"]
        out = rt("update", "-r", str(rfile), cid)
        after = _host_view(_cgroup_of(b))
        seen[name] = (out.returncode, after["pids/pids.max"], after["devices.list"] == before)
    assert seen["berth-runc"] == seen["runc"] == (0, "55\n", True)


def test_exec_in_a_paused_container_waits_for_resume_with_ignore_paused(runtimes, bundle, cid):
    seen = {}
    for name, rt in runtimes.items():
        rt("run", "-d", "--bundle", bundle(["sleep", "1000"]), cid, check=True)
        rt("pause", cid, check=True)
        refused = rt("exec", cid, "true")
        with tempfile.TemporaryFile() as out:
            proc = subprocess.Popen([rt.binary, "--root", rt.root, "exec", "--ignore-paused", cid, "echo", "hi"],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
            try:
                # the exec'd process joins the frozen cgroup: wait for it there (or for a refusal)
                while proc.poll() is None and len(json.loads(rt("ps", "--format", "json", cid).stdout)) < 2:
                    time.sleep(0.05)
                status_meanwhile = rt.state(cid)["status"]
                rt("resume", cid, check=True)
                code = proc.wait(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            out.seek(0)
            said = out.read().decode()
        seen[name] = (refused.returncode, _said(refused), status_meanwhile, code, said)
    assert seen["berth-runc"] == seen["runc"]
    assert seen["runc"][3:] == (0, "hi\n")


def _freeze_cgroup(cgroups_path: str) -> str:
    """Make the cgroup a container is about to use, frozen; returns the directory frozen."""
    rel = cgroups_path.lstrip("/")
    if cgroups.is_unified():
        path = os.path.join("/sys/fs/cgroup", rel)
        os.makedirs(path)
        with open(os.path.join(path, "cgroup.freeze"), "w") as f:
            f.write("1")
        return path
    path = os.path.join("/sys/fs/cgroup/freezer", rel)
    os.makedirs(path)
    with open(os.path.join(path, "freezer.state"), "w") as f:
        f.write("FROZEN")
    return path


def _thaw_and_remove(path: str) -> None:
    name, value = ("cgroup.freeze", "0") if cgroups.is_unified() else ("freezer.state", "THAWED")
    with open(os.path.join(path, name), "w") as f:
        f.write(value)
    os.rmdir(path)


def test_create_refuses_a_cgroup_that_exists_frozen_and_leaves_it(runtimes, bundle, cid):
    seen: dict[str, Any] = {}
    for name, rt in runtimes.items():
        b = bundle(["echo", "hi"])
        frozen = _freeze_cgroup(_cgroup_of(b))
        try:
            out = rt("run", "--bundle", b, cid, timeout=30)
            seen[name] = (out.returncode, _said(out), rt.ids(), cgroup_dirs(_cgroup_of(b)) == [frozen])
        finally:
            _thaw_and_remove(frozen)
        assert cgroup_dirs(_cgroup_of(b)) == []
    assert seen["berth-runc"] == seen["runc"] == (
        1, 'level=error msg="runc run failed: container\'s cgroup unexpectedly frozen"', [], True)
