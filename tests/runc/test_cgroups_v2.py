"""berth.runc.cgroups on cgroup v2.

This host is hybrid: its cgroup2 hierarchy (/sys/fs/cgroup/unified) is real but has
no controllers (they are all bound to v1). So the core of the v2 path — placing
processes, listing them, freezing, cgroup.kill, removing — runs here for real, on
that hierarchy; the controller files (memory.max, cpu.max, ...) cannot exist here,
so their writes are checked against a temporary directory tree standing in for
/sys/fs/cgroup, laid out as cgroup-v2.rst describes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import uuid
from typing import Iterator

import pytest

from berth.runc import cgroups
from berth.runc.cgroups import CgroupError
from berth.runc.cgroups.v2 import V2Manager, shares_to_weight, swap_to_v2
from host import free_char_major

UNIFIED = "/sys/fs/cgroup/unified"
MiB = 1 << 20


def _real_v2_root() -> str | None:
    if cgroups.is_unified():
        return "/sys/fs/cgroup"
    if cgroups.is_unified(UNIFIED):
        return UNIFIED
    return None


needs_real_v2 = pytest.mark.skipif(_real_v2_root() is None, reason="no cgroup2 hierarchy mounted")


@pytest.fixture
def real_v2() -> Iterator[V2Manager]:
    root = _real_v2_root()
    assert root is not None
    top = f"/berth-test-cg-{uuid.uuid4().hex[:12]}"
    m = cgroups.open_manager(f"{top}/ctr", "c", root=root)
    assert isinstance(m, V2Manager)
    yield m
    for pid in m.pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    V2Manager(os.path.join(root, top.lstrip("/")), root).destroy()


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait()


@needs_real_v2
def test_v2_places_lists_freezes_and_thaws_real_processes(real_v2, procs):
    real_v2.create()
    procs.append(subprocess.Popen(["sleep", "1000"], preexec_fn=lambda: real_v2.apply(os.getpid())))
    assert real_v2.pids() == [procs[0].pid]
    assert real_v2.paths() == {"": real_v2.path}

    real_v2.freeze()
    assert real_v2.is_frozen()
    assert "frozen 1" in open(os.path.join(real_v2.path, "cgroup.events")).read()
    real_v2.thaw()
    assert not real_v2.is_frozen()
    procs[0].terminate()
    assert procs[0].wait() == -signal.SIGTERM


@needs_real_v2
def test_v2_kill_all_uses_cgroup_kill_and_destroy_removes_the_directory(real_v2, procs):
    real_v2.create()
    for _ in range(3):
        procs.append(subprocess.Popen(["sleep", "1000"], preexec_fn=lambda: real_v2.apply(os.getpid())))
    real_v2.kill_all(signal.SIGKILL)
    assert [p.wait() for p in procs] == [-signal.SIGKILL] * 3
    real_v2.destroy()
    assert not os.path.exists(real_v2.path)
    real_v2.destroy()


@needs_real_v2
def test_v2_stats_count_cpu_time_and_reopen_from_paths(real_v2, procs):
    real_v2.create()
    busy = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"
    p = subprocess.run(["/bin/busybox", "sh", "-c", busy], preexec_fn=lambda: real_v2.apply(os.getpid()))
    assert p.returncode == 0
    again = cgroups.open_manager_from_paths(real_v2.paths())
    assert isinstance(again, V2Manager) and again.path == real_v2.path
    stats = again.stats()
    assert stats["cpu"]["usage"]["total"] > 0
    assert stats["cpu"]["usage"]["user"] + stats["cpu"]["usage"]["kernel"] > 0


def test_relative_v2_path_goes_under_the_parent_of_the_runtimes_own_cgroup():
    root = tempfile.mkdtemp(prefix="berth-test-cg-")
    try:
        own = [ln.split(":", 2)[2].strip() for ln in open("/proc/self/cgroup") if ln.startswith("0::")][0]
        # A stand-in root is not a cgroup2 mount, so ask for the v2 manager directly.
        m = cgroups._v2_manager("pod/ctr", root)
        assert m.path == os.path.normpath(os.path.join(root, os.path.dirname(own).lstrip("/"), "pod/ctr"))
    finally:
        os.rmdir(root)


# --- controller files, against a stand-in tree (the real v2 controllers cannot run here) ---

_CONTROLLERS = "cpuset cpu io memory hugetlb pids"
_LEAF_FILES = ("cgroup.procs", "cgroup.freeze", "cgroup.events", "memory.max", "memory.low", "memory.swap.max",
               "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max",
               "hugetlb.2MB.max")


@pytest.fixture
def fake_root() -> Iterator[str]:
    """/sys/fs/cgroup as cgroup-v2.rst lays it out: root with controllers, a/b/ctr below."""
    root = tempfile.mkdtemp(prefix="berth-test-cg-v2-")
    for d in ("", "a", "a/b", "a/b/ctr"):
        path = os.path.join(root, d)
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "cgroup.controllers"), "w") as f:
            f.write(_CONTROLLERS + "\n")
        open(os.path.join(path, "cgroup.subtree_control"), "w").close()
    for name in _LEAF_FILES:
        open(os.path.join(root, "a/b/ctr", name), "w").close()
    yield root
    import shutil

    shutil.rmtree(root)


def _read(root: str, rel: str) -> str:
    with open(os.path.join(root, rel)) as f:
        return f.read()


def test_create_enables_controllers_in_every_ancestor_but_the_leaf(fake_root):
    V2Manager(os.path.join(fake_root, "a/b/ctr"), fake_root).create()
    want = "+cpuset +cpu +io +memory +hugetlb +pids"
    assert _read(fake_root, "cgroup.subtree_control") == want
    assert _read(fake_root, "a/cgroup.subtree_control") == want
    assert _read(fake_root, "a/b/cgroup.subtree_control") == want
    assert _read(fake_root, "a/b/ctr/cgroup.subtree_control") == ""


def test_oci_resources_become_v2_files_per_the_kernel_docs(fake_root):
    m = V2Manager(os.path.join(fake_root, "a/b/ctr"), fake_root)
    m.set({
        "memory": {"limit": 64 * MiB, "swap": 96 * MiB, "reservation": 32 * MiB},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
        "pids": {"limit": 42},
        "blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MiB}],
    })
    leaf = "a/b/ctr/"
    assert _read(fake_root, leaf + "memory.max") == str(64 * MiB)
    assert _read(fake_root, leaf + "memory.low") == str(32 * MiB)
    assert _read(fake_root, leaf + "memory.swap.max") == str(32 * MiB)  # swap alone: 96M - 64M
    assert _read(fake_root, leaf + "cpu.weight") == "39"  # runc 1.1: 1 + (1024-2)*9999/262142
    assert _read(fake_root, leaf + "cpu.max") == "50000 100000"
    assert _read(fake_root, leaf + "cpuset.cpus") == "0-1"
    assert _read(fake_root, leaf + "cpuset.mems") == "0"
    assert _read(fake_root, leaf + "pids.max") == "42"
    assert _read(fake_root, leaf + "io.weight") == str(1 + (500 - 10) * 9999 // 990)
    assert _read(fake_root, leaf + "io.max") == "8:0 rbps=1048576"
    assert _read(fake_root, leaf + "hugetlb.2MB.max") == str(4 * MiB)


def test_unlimited_values_are_written_as_max(fake_root):
    m = V2Manager(os.path.join(fake_root, "a/b/ctr"), fake_root)
    m.set({"memory": {"limit": -1}, "cpu": {"quota": -1, "period": 100000}, "pids": {"limit": -1}})
    leaf = "a/b/ctr/"
    assert _read(fake_root, leaf + "memory.max") == "max"
    assert _read(fake_root, leaf + "memory.swap.max") == "max"
    assert _read(fake_root, leaf + "cpu.max") == "max 100000"
    assert _read(fake_root, leaf + "pids.max") == "max"


def test_swap_equal_to_memory_means_no_swap(fake_root):
    m = V2Manager(os.path.join(fake_root, "a/b/ctr"), fake_root)
    m.set({"memory": {"limit": 64 * MiB, "swap": 64 * MiB}})
    assert _read(fake_root, "a/b/ctr/memory.swap.max") == "0"


def test_unified_entries_are_written_verbatim_and_checked(fake_root):
    m = V2Manager(os.path.join(fake_root, "a/b/ctr"), fake_root)
    m.set({"unified": {"memory.max": "12345"}})
    assert _read(fake_root, "a/b/ctr/memory.max") == "12345"
    with pytest.raises(CgroupError, match="controller 'rdma' not available"):
        m.set({"unified": {"rdma.max": "mlx4_0 hca_handle=2"}})
    with pytest.raises(CgroupError, match="must be a file name"):
        m.set({"unified": {"../memory.max": "1"}})


def test_conversions_match_runc():
    assert [shares_to_weight(s) for s in (0, 2, 1024, 262144)] == [0, 1, 39, 10000]
    assert swap_to_v2(0, -1) == -1
    assert swap_to_v2(-1, 64) == -1
    assert swap_to_v2(128, 64) == 64
    with pytest.raises(CgroupError, match="memory\\+swap limit should be >= memory limit"):
        swap_to_v2(32, 64)
    with pytest.raises(CgroupError, match="unable to set swap limit without memory limit"):
        swap_to_v2(64, 0)


@needs_real_v2
def test_v2_device_rules_are_enforced_by_an_ebpf_program(real_v2):
    real_v2.create()
    real_v2.set(cgroups.effective_resources({"resources": {"devices": [{"allow": False, "access": "rwm"}]}}))
    # A second set (an update) replaces the program instead of stacking another
    # (counted in test_the_last_matching_device_rule_wins).
    real_v2.set(cgroups.effective_resources({"resources": {"devices": [{"allow": False, "access": "rwm"}]}}))
    script = ("echo ok > /dev/null && echo null-ok; cat /dev/kmsg >/dev/null 2>&1 || echo kmsg-denied; "
              "head -c1 /dev/urandom >/dev/null && echo urandom-ok")
    out = subprocess.run(["/bin/busybox", "sh", "-c", script], capture_output=True, text=True, timeout=60,
                         preexec_fn=lambda: real_v2.apply(os.getpid()))
    assert out.stdout.split() == ["null-ok", "kmsg-denied", "urandom-ok"]


@needs_real_v2
def test_the_last_matching_device_rule_wins(real_v2):
    from berth.runc.cgroups.ebpf import _attached

    real_v2.create()
    real_v2.set({"devices": [{"allow": True, "access": "rwm"}]})
    real_v2.set({"devices": [{"allow": False, "access": "rwm"},
                             {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                             {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"}]})
    fd = os.open(real_v2.path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert len(_attached(fd)) == 1  # the update replaced the first program
    finally:
        os.close(fd)
    script = "cat /dev/null && echo read-ok; echo x > /dev/null || echo write-denied"
    out = subprocess.run(["/bin/busybox", "sh", "-c", script], capture_output=True, text=True, timeout=60,
                         preexec_fn=lambda: real_v2.apply(os.getpid()))
    assert out.stdout.split() == ["read-ok", "write-denied"]


@needs_real_v2
def test_an_update_swaps_the_device_program_with_no_gap(real_v2, procs, tmp_path):
    """Through 50 rule changes /dev/null is never refused, a denied node never opens, one program stays."""
    from berth.runc.cgroups.ebpf import _attached

    major = free_char_major()
    if major is None:
        pytest.skip("no free experimental char major on this host")
    probe = str(tmp_path / "probe")
    os.mknod(probe, 0o20666, os.makedev(major, 0))  # denied throughout: open says EPERM, ENXIO if allowed
    real_v2.create()
    docker = cgroups.effective_resources({"resources": {"devices": [{"allow": False, "access": "rwm"}]}})["devices"]
    real_v2.set({"devices": docker})
    fd = os.open(real_v2.path, os.O_RDONLY | os.O_DIRECTORY)
    out = open(tmp_path / "out", "w+b")
    try:
        first = _attached(fd)
        for script in ("while :; do echo x > /dev/null || echo null-denied; done",
                       f"while :; do (exec 3<{probe}) 2>&1 | grep -q 'No such device' && echo probe-allowed; done"):
            procs.append(subprocess.Popen(["/bin/busybox", "sh", "-c", script], stdout=out, stderr=subprocess.STDOUT,
                                          preexec_fn=lambda: real_v2.apply(os.getpid())))
        for i in range(50):
            extra = [{"allow": True, "type": "c", "major": major, "minor": i + 1, "access": "rwm"}] if i % 2 else []
            real_v2.set({"devices": docker + extra})
            now = _attached(fd)
            assert len(now) == 1 and now != first  # swapped, not stacked
            first = now
        assert [p.poll() for p in procs] == [None, None]
        for p in procs:
            p.kill()
            p.wait()
        out.seek(0)
        text = out.read()
        assert b"null-denied" not in text and b"probe-allowed" not in text
    finally:
        os.close(fd)
        out.close()
