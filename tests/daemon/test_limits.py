"""Resource limits end to end: run/create flags → HostConfig → the OCI spec → the cgroup,
enforced on real workloads in busybox; OOM kills reported; bad input refused as docker does."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
from tests.daemon.conftest import Berthd, wait_until

CGROOT = "/sys/fs/cgroup"


def berth(d: Berthd, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "berth.client.main", "-H", d.host, *args],
                          capture_output=True, text=True, timeout=timeout)


def cg(d: Berthd, controller: str, cid: str, name: str) -> str:
    with open(os.path.join(CGROOT, controller, d.cgroup_parent, cid, name)) as f:
        return f.read().strip()


def names_of(api: httpx.Client) -> set[str]:
    return {n for c in api.get("/containers/json", params={"all": 1}).json() for n in c["Names"]}


def rm(api: httpx.Client, cid: str) -> None:
    api.delete(f"/containers/{cid}", params={"force": 1})


def test_run_flags_reach_hostconfig_and_the_cgroup(berthd: Berthd, api: httpx.Client) -> None:
    r = berth(berthd, "run", "-d", "-m", "64m", "--memory-reservation", "32m", "--cpus", "0.5",
              "--cpu-shares", "512", "--cpuset-cpus", "0", "--cpuset-mems", "0", "--pids-limit", "50",
              "--ulimit", "nofile=512:1024", "--oom-score-adj", "300", "busybox", "sh", "-c",
              "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; sleep 600")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        host = api.get(f"/containers/{cid}/json").json()["HostConfig"]
        assert host["Memory"] == 64 << 20 and host["MemorySwap"] == 128 << 20  # docker's default: 2x
        assert host["MemoryReservation"] == 32 << 20 and host["NanoCpus"] == 500_000_000
        assert host["CpuShares"] == 512 and host["CpusetCpus"] == "0" and host["CpusetMems"] == "0"
        assert host["PidsLimit"] == 50 and host["OomScoreAdj"] == 300
        assert host["Ulimits"] == [{"Name": "nofile", "Hard": 1024, "Soft": 512}]
        assert cg(berthd, "memory", cid, "memory.limit_in_bytes") == str(64 << 20)
        assert cg(berthd, "memory", cid, "memory.memsw.limit_in_bytes") == str(128 << 20)
        assert cg(berthd, "memory", cid, "memory.soft_limit_in_bytes") == str(32 << 20)
        assert cg(berthd, "cpu", cid, "cpu.cfs_quota_us") == "50000"
        assert cg(berthd, "cpu", cid, "cpu.cfs_period_us") == "100000"
        assert cg(berthd, "cpu", cid, "cpu.shares") == "512"
        assert cg(berthd, "cpuset", cid, "cpuset.cpus") == "0"
        assert cg(berthd, "pids", cid, "pids.max") == "50"
        assert wait_until(lambda: len(berth(berthd, "logs", cid).stdout.split()) >= 3)
        assert berth(berthd, "logs", cid).stdout.split() == ["512", "1024", "300"]
    finally:
        rm(api, cid)
    assert not os.path.exists(os.path.join(CGROOT, "memory", berthd.cgroup_parent, cid))


def test_a_memory_hog_is_oom_killed_and_inspect_says_so(berthd: Berthd, api: httpx.Client) -> None:
    # tail buffers its whole input: /dev/zero has no newline, so it grows until killed
    r = berth(berthd, "run", "--name", "hog", "-m", "32m", "--memory-swap", "32m", "busybox",
              "sh", "-c", "tail /dev/zero")
    try:
        assert r.returncode == 137, r.stderr
        state = api.get("/containers/hog/json").json()["State"]
        assert state["OOMKilled"] is True and state["ExitCode"] == 137
        fmt = berth(berthd, "inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "hog")
        assert fmt.stdout == "true 137\n"
    finally:
        rm(api, "hog")


def test_a_clean_exit_is_not_oom_killed(berthd: Berthd, api: httpx.Client) -> None:
    r = berth(berthd, "run", "--name", "fine", "-m", "32m", "busybox", "true")
    try:
        assert r.returncode == 0, r.stderr
        assert api.get("/containers/fine/json").json()["State"]["OOMKilled"] is False
    finally:
        rm(api, "fine")


def test_pids_limit_refuses_a_fork_loop_and_the_container_survives(berthd: Berthd, api: httpx.Client) -> None:
    # forty sleepers under a limit of twenty: the forks past it fail, the shell carries on
    # (busybox sh gives up at a failed fork: the loop runs in a child shell of its own)
    script = "sh -c 'for i in $(seq 40); do sleep 600 & done'; echo started; exec sleep 600"
    r = berth(berthd, "run", "-d", "--pids-limit", "20", "busybox", "sh", "-c", script)
    cid = r.stdout.strip()
    try:
        assert r.returncode == 0, r.stderr
        assert wait_until(lambda: "started" in berth(berthd, "logs", cid).stdout)
        logs = berth(berthd, "logs", cid)
        assert "can't fork" in logs.stderr or "Resource temporarily unavailable" in logs.stderr, logs
        assert int(cg(berthd, "pids", cid, "pids.current")) <= 20
        assert int(cg(berthd, "pids", cid, "pids.events").split()[-1]) > 0  # "max N": refusals
        assert api.get(f"/containers/{cid}/json").json()["State"]["Running"] is True
        assert berth(berthd, "run", "--rm", "busybox", "true").returncode == 0  # the host is fine
    finally:
        rm(api, cid)


def _cpu_usage_ns(d: Berthd, cid: str) -> int:
    return int(cg(d, "cpuacct", cid, "cpuacct.usage"))


def test_cpus_half_uses_half_a_cpu(berthd: Berthd, api: httpx.Client) -> None:
    r = berth(berthd, "run", "-d", "--cpus", "0.5", "busybox", "sh", "-c", "while :; do :; done")
    cid = r.stdout.strip()
    try:
        assert r.returncode == 0, r.stderr
        time.sleep(0.5)
        t0, u0 = time.monotonic(), _cpu_usage_ns(berthd, cid)
        time.sleep(4)
        t1, u1 = time.monotonic(), _cpu_usage_ns(berthd, cid)
        share = (u1 - u0) / ((t1 - t0) * 1e9)
        assert 0.35 <= share <= 0.65, share
    finally:
        rm(api, cid)


@pytest.mark.parametrize("args, message", [
    (["-m", "12qq"], 'invalid argument "12qq" for "-m, --memory" flag: invalid size: \'12qq\''),
    (["--memory-swap", "x"], 'invalid argument "x" for "--memory-swap" flag: invalid size: \'x\''),
    (["--cpus", "abc"], 'invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number'),
    (["--ulimit", "nofile"], 'invalid argument "nofile" for "--ulimit" flag: invalid ulimit argument: nofile'),
    (["--ulimit", "bogus=1"], 'invalid argument "bogus=1" for "--ulimit" flag: invalid ulimit type: bogus'),
])
def test_unparseable_flags_are_refused_with_dockers_words(berthd: Berthd, api: httpx.Client,
                                                          args: list[str], message: str) -> None:
    before = names_of(api)
    r = berth(berthd, "run", "--name", "never", *args, "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.startswith(message + "\n"), r.stderr
    assert names_of(api) == before


@pytest.mark.parametrize("args, message", [
    (["-m", "1m"], "Minimum memory limit allowed is 6MB"),
    (["-m", "64m", "--memory-swap", "32m"],
     "Minimum memoryswap limit should be larger than memory limit, see usage"),
    (["--memory-swap", "64m"], "You should always set the Memory limit when using Memoryswap limit, see usage"),
    (["--cpus", "64"], f"Range of CPUs is from 0.01 to {len(os.sched_getaffinity(0))}.00, as there are only "
                       f"{len(os.sched_getaffinity(0))} CPUs available"),
    (["--cpus", "1", "--cpu-quota", "50000"], "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
    (["--cpu-period", "10"],
     "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
    (["--oom-score-adj", "5000"], "Invalid value 5000, range for oom score adj is [-1000, 1000]"),
    (["--cpuset-cpus", "99"], "Requested CPUs are not available - requested 99, available: "),
])
def test_limits_the_daemon_refuses_exit_125_and_create_nothing(berthd: Berthd, api: httpx.Client,
                                                               args: list[str], message: str) -> None:
    before = names_of(api)
    r = berth(berthd, "run", "--name", "never", *args, "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.startswith(f"berth: Error response from daemon: {message}"), r.stderr
    assert names_of(api) == before
    d = berthd.docker("run", "--name", "never", *args, "busybox", "true")
    assert d.returncode == 125 and message in d.stderr, d.stderr
    assert names_of(api) == before
