"""cgroup v1 statistics, read the way runc 1.1's cgroupfs driver reads them."""

from __future__ import annotations

import os

from berth.runc.cgroups import _stats
from berth.runc.cgroups._fs import read_keyed, read_or, read_uint

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any, Callable

_CLOCK_TICKS = 100  # USER_HZ, the unit of cpuacct.stat (runc assumes it too)


def collect(path_of: Callable[[str], str]) -> dict[str, Any]:
    """Every controller's numbers; `path_of(subsystem)` is "" for one not mounted."""
    data = _stats.empty()
    if path_of("cpuacct") or path_of("cpu"):
        data["cpu"] = _cpu_stats(path_of("cpuacct"), path_of("cpu"))
    if path_of("cpuset"):
        data["cpuset"] = _cpuset_stats(path_of("cpuset"))
    if path_of("memory"):
        data["memory"] = _memory_stats(path_of("memory"))
    if path_of("pids"):
        data["pids"] = _stats.drop_zero({"current": read_uint(path_of("pids"), "pids.current"),
                                         "limit": read_uint(path_of("pids"), "pids.max")})
    if path_of("blkio"):
        data["blkio"] = _blkio_stats(path_of("blkio"))
    if path_of("hugetlb"):
        data["hugetlb"] = _hugetlb_stats(path_of("hugetlb"))
    return data


def _cpu_stats(cpuacct: str, cpu: str) -> dict[str, Any]:
    usage: dict[str, Any] = {}
    if cpuacct:
        usage["total"] = read_uint(cpuacct, "cpuacct.usage")
        usage["percpu"] = [int(x) for x in read_or(cpuacct, "cpuacct.usage_percpu").split()]
        kernel: list[int] = []
        user: list[int] = []
        for line in read_or(cpuacct, "cpuacct.usage_all").splitlines()[1:]:
            parts = line.split()
            if len(parts) == 3:
                user.append(int(parts[1]))
                kernel.append(int(parts[2]))
        usage["percpu_kernel"] = kernel
        usage["percpu_user"] = user
        ticks = read_keyed(cpuacct, "cpuacct.stat")
        usage["kernel"] = ticks.get("system", 0) * 1_000_000_000 // _CLOCK_TICKS
        usage["user"] = ticks.get("user", 0) * 1_000_000_000 // _CLOCK_TICKS
    usage = _stats.drop_zero(usage, "kernel", "user")
    usage.setdefault("kernel", 0)
    usage.setdefault("user", 0)
    throttling: dict[str, int] = {}
    if cpu:
        st = read_keyed(cpu, "cpu.stat")
        throttling = _stats.drop_zero({"periods": st.get("nr_periods", 0),
                                       "throttledPeriods": st.get("nr_throttled", 0),
                                       "throttledTime": st.get("throttled_time", 0)})
    return {"usage": usage, "throttling": throttling}


def _cpuset_stats(path: str) -> dict[str, Any]:
    def num(name: str) -> int:
        text = read_or(path, f"cpuset.{name}").strip()
        return int(text) if text else 0

    return {
        "cpus": _stats.parse_list(read_or(path, "cpuset.cpus")),
        "cpu_exclusive": num("cpu_exclusive"),
        "mems": _stats.parse_list(read_or(path, "cpuset.mems")),
        "mem_hardwall": num("mem_hardwall"),
        "mem_exclusive": num("mem_exclusive"),
        "memory_migrate": num("memory_migrate"),
        "memory_spread_page": num("memory_spread_page"),
        "memory_spread_slab": num("memory_spread_slab"),
        "memory_pressure": num("memory_pressure"),
        "sched_load_balance": num("sched_load_balance"),
        "sched_relax_domain_level": num("sched_relax_domain_level"),
    }


def _memory_stats(path: str) -> dict[str, Any]:
    def entry(prefix: str) -> dict[str, int]:
        return _stats.memory_entry(
            limit=read_uint(path, f"{prefix}limit_in_bytes"),
            usage=read_uint(path, f"{prefix}usage_in_bytes"),
            max_usage=read_uint(path, f"{prefix}max_usage_in_bytes"),
            failcnt=read_uint(path, f"{prefix}failcnt"),
        )

    raw = read_keyed(path, "memory.stat")
    return _stats.drop_zero({
        "cache": raw.get("cache", 0),
        "usage": entry("memory."),
        "swap": entry("memory.memsw."),
        "kernel": entry("memory.kmem."),
        "kernelTCP": entry("memory.kmem.tcp."),
        "raw": dict(sorted(raw.items())),
    }, "usage", "swap", "kernel", "kernelTCP")


def _blkio_stats(path: str) -> dict[str, Any]:
    def entries(name: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for line in read_or(path, name).splitlines():
            parts = line.split()
            if len(parts) == 3 and ":" in parts[0]:
                major, minor = parts[0].split(":")
                out.append({"major": int(major), "minor": int(minor), "op": parts[1], "value": int(parts[2])})
        return out

    return _stats.drop_zero({
        "ioServiceBytesRecursive": entries("blkio.throttle.io_service_bytes_recursive"),
        "ioServicedRecursive": entries("blkio.throttle.io_serviced_recursive"),
    })


def _hugetlb_stats(path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in sorted(os.listdir(path)):
        if name.startswith("hugetlb.") and name.endswith(".limit_in_bytes") and ".rsvd." not in name:
            size = name[len("hugetlb."):-len(".limit_in_bytes")]
            out[size] = _stats.drop_zero({
                "usage": read_uint(path, f"hugetlb.{size}.usage_in_bytes"),
                "max": read_uint(path, f"hugetlb.{size}.max_usage_in_bytes"),
                "failcnt": read_uint(path, f"hugetlb.{size}.failcnt"),
            }, "failcnt")
    return out
