"""berth.runc.cgroups on this host's cgroup v1 (hybrid) hierarchies, for real.

Each test puts a real process into a fresh cgroup named berth-test-<random>, acts on
it through the manager, looks at what the kernel shows, and removes it all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from typing import Callable, Iterator

import pytest

from berth.runc import cgroups
from berth.runc.cgroups import CgroupError, CgroupManager
from berth.runc.cgroups.devices import DEFAULT_RULES

pytestmark = pytest.mark.skipif(cgroups.is_unified(), reason="host is cgroup v2 only")

MiB = 1 << 20


def _read(m: CgroupManager, subsystem: str, name: str) -> str:
    with open(os.path.join(m.paths()[subsystem], name)) as f:
        return f.read().strip()


def _reap(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


@pytest.fixture
def new_manager() -> Iterator[Callable[..., CgroupManager]]:
    """Factory of managers for unique cgroups; every one is destroyed afterwards."""
    made: list[CgroupManager] = []

    def make(path: str | None = None, cid: str = "c") -> CgroupManager:
        m = cgroups.open_manager(path if path is not None else f"/berth-test-cg-{uuid.uuid4().hex[:12]}", cid)
        made.append(m)
        return m

    yield make
    for m in made:
        for pid in m.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        m.destroy()


@pytest.fixture
def sleeper() -> Iterator[Callable[..., subprocess.Popen]]:
    """Starts `sleep 1000`, placed in `into` (if given) before it execs, as a runtime does."""
    procs: list[subprocess.Popen] = []

    def start(into: CgroupManager | None = None) -> subprocess.Popen:
        join = (lambda: into.apply(os.getpid())) if into is not None else None
        procs.append(subprocess.Popen(["sleep", "1000"], preexec_fn=join))
        return procs[-1]

    yield start
    _reap(procs)


def test_a_process_placed_in_the_cgroup_is_listed_there_and_in_every_hierarchy(new_manager, sleeper):
    m = new_manager()
    m.create()
    proc = sleeper()
    m.apply(proc.pid)

    assert m.pids() == [proc.pid]
    own = open(f"/proc/{proc.pid}/cgroup").read()
    name = os.path.basename(m.paths()["memory"])
    for line in own.splitlines():
        assert line.endswith("/" + name), line  # every v1 hierarchy and the unified one


def test_limits_land_in_the_files_runc_writes(new_manager, sleeper):
    m = new_manager()
    m.create()
    m.apply(sleeper().pid)
    m.set({
        "memory": {"limit": 64 * MiB, "swap": 128 * MiB, "reservation": 32 * MiB},
        "cpu": {"shares": 512, "quota": 50000, "period": 200000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 42},
    })

    assert _read(m, "memory", "memory.limit_in_bytes") == str(64 * MiB)
    assert _read(m, "memory", "memory.memsw.limit_in_bytes") == str(128 * MiB)
    assert _read(m, "memory", "memory.soft_limit_in_bytes") == str(32 * MiB)
    assert _read(m, "cpu", "cpu.shares") == "512"
    assert _read(m, "cpu", "cpu.cfs_quota_us") == "50000"
    assert _read(m, "cpu", "cpu.cfs_period_us") == "200000"
    assert _read(m, "cpuset", "cpuset.cpus") == "0"
    assert _read(m, "pids", "pids.max") == "42"


def test_memory_can_be_raised_and_lowered_with_swap_in_either_order(new_manager):
    m = new_manager()
    m.create()
    m.set({"memory": {"limit": 64 * MiB, "swap": 128 * MiB}})
    m.set({"memory": {"limit": 512 * MiB, "swap": 1024 * MiB}})  # swap must grow first
    assert (_read(m, "memory", "memory.limit_in_bytes"), _read(m, "memory", "memory.memsw.limit_in_bytes")) == \
        (str(512 * MiB), str(1024 * MiB))
    m.set({"memory": {"limit": 16 * MiB, "swap": 32 * MiB}})  # limit must shrink first
    assert (_read(m, "memory", "memory.limit_in_bytes"), _read(m, "memory", "memory.memsw.limit_in_bytes")) == \
        (str(16 * MiB), str(32 * MiB))
    m.set({"memory": {"limit": -1}})  # unlimited memory takes swap along
    assert _read(m, "memory", "memory.memsw.limit_in_bytes") == _read(m, "memory", "memory.limit_in_bytes")


def test_pids_limit_stops_forks_beyond_it(new_manager):
    m = new_manager()
    m.create()
    m.set({"pids": {"limit": 3}})
    # The shell joins the cgroup itself, then starts sleepers until a fork fails.
    script = (f"echo $$ > {m.paths()['pids']}/cgroup.procs; started=0; "
              "for i in 1 2 3 4 5; do sleep 1000 </dev/null >/dev/null 2>&1 & pids=\"$pids $!\"; "
              "started=$((started+1)); done; kill $pids; echo started=$started")
    out = subprocess.run(["/bin/busybox", "sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert "can't fork" in out.stderr or "Resource temporarily unavailable" in out.stderr
    assert "started=5" not in out.stdout


def test_cpu_shares_out_of_range_is_reported_as_runc_does(new_manager):
    m = new_manager()
    m.create()
    with pytest.raises(CgroupError, match="the minimum allowed cpu-shares is 2"):
        m.set({"cpu": {"shares": 1}})
    with pytest.raises(CgroupError, match="the maximum allowed cpu-shares is 262144"):
        m.set({"cpu": {"shares": 10_000_000}})


def test_device_rules_deny_what_is_not_allowed(new_manager):
    m = new_manager()
    m.create()
    linux = {"resources": {"devices": [{"allow": False, "access": "rwm"}]}}
    m.set(cgroups.effective_resources(linux))
    expected = {"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
                "c 5:0 rwm", "c 5:2 rwm", "c 10:200 rwm", "c 136:* rwm"}
    assert set(_read(m, "devices", "devices.list").splitlines()) == expected
    assert len(DEFAULT_RULES) == len(expected)

    # /dev/null is allowed, /dev/kmsg (c 1:11) is not: a shell in the cgroup finds out.
    script = (f"echo $$ > {m.paths()['devices']}/cgroup.procs; echo ok > /dev/null && echo null-ok; "
              "cat /dev/kmsg >/dev/null 2>&1 || echo kmsg-denied")
    out = subprocess.run(["/bin/busybox", "sh", "-c", script], capture_output=True, text=True)
    assert out.stdout.split() == ["null-ok", "kmsg-denied"]


def test_linux_devices_of_the_spec_are_allowed_too():
    rules = cgroups.effective_resources({"devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]})
    assert rules["devices"][-1] == {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"}


def test_freeze_stops_the_processes_and_thaw_lets_them_go(new_manager, sleeper):
    m = new_manager()
    m.create()
    proc = sleeper()
    m.apply(proc.pid)

    m.freeze()
    assert m.is_frozen()
    assert _read(m, "freezer", "freezer.state") == "FROZEN"
    m.thaw()
    assert not m.is_frozen()
    proc.terminate()  # a thawed process handles its signals again
    assert proc.wait() == -signal.SIGTERM


def test_kill_all_ends_every_process_and_destroy_removes_every_directory(new_manager, sleeper):
    m = new_manager()
    m.create()
    procs = [sleeper(), sleeper()]
    for p in procs:
        m.apply(p.pid)

    m.kill_all(signal.SIGKILL)
    assert [p.wait() for p in procs] == [-signal.SIGKILL, -signal.SIGKILL]
    m.destroy()
    assert [p for p in m.paths().values() if os.path.exists(p)] == []
    m.destroy()  # already gone is fine


def test_destroy_refuses_while_a_process_is_inside(new_manager, sleeper):
    m = new_manager()
    m.create()
    proc = sleeper()
    m.apply(proc.pid)
    with pytest.raises(CgroupError, match="device or resource busy"):
        m.destroy()
    proc.kill()
    proc.wait()


def test_stats_report_usage_and_limits_in_runc_events_shape(new_manager, sleeper):
    m = new_manager()
    m.create()
    m.set({"memory": {"limit": 64 * MiB}, "pids": {"limit": 10}})
    sleeper(into=m)

    stats = m.stats()
    assert list(stats) == ["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"]
    assert stats["pids"] == {"current": 1, "limit": 10}
    assert stats["memory"]["usage"]["limit"] == 64 * MiB
    assert stats["memory"]["usage"]["usage"] > 0
    assert "rss" in stats["memory"]["raw"]
    assert set(stats["cpu"]["usage"]) >= {"kernel", "user"}
    assert stats["cpuset"]["cpus"] == list(range(os.cpu_count() or 1))


def test_reopening_from_saved_paths_gives_the_same_cgroup(new_manager, sleeper):
    m = new_manager()
    m.create()
    proc = sleeper()
    m.apply(proc.pid)
    again = cgroups.open_manager_from_paths(m.paths())
    assert again.paths() == m.paths()
    assert again.pids() == [proc.pid]


def test_relative_path_goes_under_the_runtimes_own_cgroup_per_hierarchy(new_manager):
    name = f"berth-test-cg-{uuid.uuid4().hex[:12]}"
    m = new_manager(name)
    own = {}
    for line in open("/proc/self/cgroup"):
        _, ctrls, path = line.rstrip("\n").split(":", 2)
        for c in (ctrls.split(",") if ctrls else [""]):
            own[c] = path
    assert m.paths()["memory"] == os.path.normpath(f"/sys/fs/cgroup/memory/{own['memory']}/{name}")
    assert m.paths()["pids"] == os.path.normpath(f"/sys/fs/cgroup/pids/{own['pids']}/{name}")
    m.create()
    assert os.path.isdir(m.paths()["memory"])


def test_empty_path_is_named_after_the_container(new_manager):
    cid = f"berth-test-cg-{uuid.uuid4().hex[:12]}"
    m = new_manager("", cid)
    assert all(os.path.basename(p) == cid for p in m.paths().values())


def test_dotdot_cannot_escape_the_hierarchy(new_manager):
    m = new_manager("/../../berth-test-x")
    assert m.paths()["pids"] == "/sys/fs/cgroup/pids/berth-test-x"


def test_cpuset_of_a_nested_new_cgroup_is_filled_from_its_parent(new_manager, sleeper):
    top = f"/berth-test-cg-{uuid.uuid4().hex[:12]}"
    m = new_manager(f"{top}/a/b")
    m.create()
    proc = sleeper()
    m.apply(proc.pid)  # an empty cpuset.cpus would refuse the task with ENOSPC
    assert _read(m, "cpuset", "cpuset.cpus") == open("/sys/fs/cgroup/cpuset/cpuset.cpus").read().strip()
    proc.kill()
    proc.wait()
    new_manager(top).destroy()  # the parents too


def test_a_write_the_kernel_refuses_is_one_line_with_the_file_and_reason(new_manager):
    m = new_manager()
    m.create()
    with pytest.raises(CgroupError) as info:
        m.set({"cpu": {"cpus": "999999"}})
    # Go's wording of ERANGE, as runc prints it.
    assert str(info.value) == (f'failed to write "999999": write {m.paths()["cpuset"]}/cpuset.cpus: '
                               "numerical result out of range")
