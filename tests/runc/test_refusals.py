"""What runc refuses, berth-runc refuses, with the same words and exit status.

Mount destinations: procfs and sysfs only onto a real directory (a rootfs whose
/proc is a symlink or a file is refused, before anything follows it), and no bind
mount inside /proc but the few files lxcfs emulates. The same bundle runs under
both runtimes; what the user sees (exit status, runc's error line) must match, and
a refused create leaves no container and no cgroup behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from typing import Any, Callable

import pytest

from host import cgroup_dirs


def _error_line(stderr: str) -> str:
    """runc's logrus line without its time."""
    return re.sub(r'^time="[^"]*" ', "", stderr.strip())


def _replace(rootfs: str, name: str, make: Callable[[str], None]) -> None:
    path = os.path.join(rootfs, name)
    shutil.rmtree(path)
    make(path)


def _file(path: str) -> None:
    open(path, "w").close()


ROOTFS_CASES: dict[str, tuple[str, Callable[[str], None], str]] = {
    # case: (rootfs entry, what it becomes, mount type runc names)
    "proc-symlink": ("proc", lambda p: os.symlink("/tmp", p), "proc"),
    "proc-dangling-symlink": ("proc", lambda p: os.symlink("/nowhere", p), "proc"),
    "proc-file": ("proc", _file, "proc"),
    "sys-symlink": ("sys", lambda p: os.symlink("/tmp", p), "sysfs"),
    "sys-file": ("sys", _file, "sysfs"),
}


def _rootfs(bundle_dir: str) -> str:
    with open(os.path.join(bundle_dir, "config.json")) as f:
        return os.path.join(bundle_dir, json.load(f)["root"]["path"])


def _cgroups_path(bundle_dir: str) -> str:
    with open(os.path.join(bundle_dir, "config.json")) as f:
        return json.load(f)["linux"]["cgroupsPath"]


@pytest.mark.parametrize("case", list(ROOTFS_CASES))
def test_proc_and_sysfs_only_onto_an_ordinary_directory(case, runtime, bundle, cid):
    entry, make, fstype = ROOTFS_CASES[case]
    b = bundle(["true"], private_rootfs=True)
    _replace(_rootfs(b), entry, make)
    out = runtime("run", "--bundle", b, cid)
    dest = "/proc" if fstype == "proc" else "/sys"
    assert (out.returncode, out.stdout, _error_line(out.stderr)) == (1, "", (
        'level=error msg="runc run failed: unable to start container process: error during container init: '
        f'error mounting \\"{fstype}\\" to rootfs at \\"{dest}\\": '
        f'filesystem \\"{fstype}\\" must be mounted on ordinary directory"'))
    assert runtime.ids() == []
    assert cgroup_dirs(_cgroups_path(b)) == []


def _bind(dest: str, source: str) -> Callable[[dict[str, Any]], None]:
    def edit(spec: dict[str, Any]) -> None:
        spec["mounts"].append({"destination": dest, "type": "bind", "source": source, "options": ["bind"]})
    return edit


BIND_CASES: dict[str, tuple[str, str]] = {
    "inside-proc": ("/proc/sysrq-trigger", "/etc/hostname"),
    "through-proc-self": ("/proc/self/attr/current", "/etc/hostname"),
    "onto-proc-not-procfs": ("/proc", "/tmp"),
    "lxcfs-file": ("/proc/cpuinfo", "/etc/hostname"),  # allowed
    "onto-proc-from-procfs": ("/proc", "/proc"),  # allowed
}


@pytest.mark.parametrize("case", list(BIND_CASES))
def test_bind_mounts_inside_proc_as_runc(case, runtimes, bundle):
    """The same bundle (so the same rootfs path in the message) under both runtimes."""
    dest, source = BIND_CASES[case]
    b = bundle(["sh", "-c", "cat /proc/cpuinfo | head -c 0; echo ran"], edit=_bind(dest, source))
    seen = {}
    for name, rt in runtimes.items():
        out = rt("run", "--bundle", b, f"t-{name}")
        seen[name] = (out.returncode, out.stdout, _error_line(out.stderr))
        assert rt.ids() == []
    assert seen["berth-runc"] == seen["runc"]
    assert cgroup_dirs(_cgroups_path(b)) == []


def test_the_refusals_of_binds_in_proc_say_why(runtime, bundle, cid):
    b = bundle(["true"], edit=_bind("/proc/sysrq-trigger", "/etc/hostname"))
    out = runtime("run", "--bundle", b, cid)
    where = os.path.join(_rootfs(b), "proc", "sysrq-trigger")
    assert (out.returncode, _error_line(out.stderr)) == (1, (
        'level=error msg="runc run failed: unable to start container process: error during container init: '
        'error mounting \\"/etc/hostname\\" to rootfs at \\"/proc/sysrq-trigger\\": '
        f'\\"{where}\\" cannot be mounted because it is inside /proc"'))


def _wait_stopped(runtime: Any, cid: str) -> None:
    while runtime.state(cid)["status"] != "stopped":
        time.sleep(0.01)


@pytest.mark.parametrize("signal", ["0", "KILL"])
def test_kill_all_of_a_stopped_container_succeeds(runtime, bundle, cid, signal):
    runtime("run", "-d", "--bundle", bundle(["true"]), cid, check=True)
    _wait_stopped(runtime, cid)
    out = runtime("kill", "--all", cid, signal)
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")
    # without --all it stays an error (test_lifecycle.py), and the container is still there to delete
    assert runtime("kill", cid, signal).returncode == 1
    assert runtime.state(cid)["status"] == "stopped"
