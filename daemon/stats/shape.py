"""runc's cgroup statistics as docker's StatsJSON (moby daemon/stats_unix.go), and the
host figures docker puts beside them (system CPU time, online CPUs, machine memory)."""

from __future__ import annotations

import os
from typing import Any

from berth.common.timefmt import ZERO_TIME

_TICKS = os.sysconf("SC_CLK_TCK")
_BLKIO_KEYS = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
               "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
               "io_time_recursive", "sectors_recursive")


def system_cpu_usage() -> int:
    """The host's CPU time in ns, as dockerd sums it: the first seven fields of /proc/stat's cpu line."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu "):
                return sum(int(x) for x in line.split()[1:8]) * 1_000_000_000 // _TICKS
    return 0


def online_cpus() -> int:
    return os.sysconf("SC_NPROCESSORS_ONLN")


def machine_memory() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _zero_cpu() -> dict[str, Any]:
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def empty(name: str, cid: str) -> dict[str, Any]:
    """What dockerd answers for a container that is not running: zeros, name and id."""
    return {"read": ZERO_TIME, "preread": ZERO_TIME, "pids_stats": {},
            "blkio_stats": {k: None for k in _BLKIO_KEYS}, "num_procs": 0, "storage_stats": {},
            "cpu_stats": _zero_cpu(), "precpu_stats": _zero_cpu(), "memory_stats": {},
            "name": name, "id": cid}


def cpu_stats(data: dict[str, Any], system: int, cpus: int) -> dict[str, Any]:
    cpu = data.get("cpu") or {}
    usage, throttling = cpu.get("usage") or {}, cpu.get("throttling") or {}
    out: dict[str, Any] = {"total_usage": usage.get("total", 0)}
    if usage.get("percpu"):
        out["percpu_usage"] = usage["percpu"]
    out["usage_in_kernelmode"] = usage.get("kernel", 0)
    out["usage_in_usermode"] = usage.get("user", 0)
    return {"cpu_usage": out, "system_cpu_usage": system, "online_cpus": cpus,
            "throttling_data": {"periods": throttling.get("periods", 0),
                                "throttled_periods": throttling.get("throttledPeriods", 0),
                                "throttled_time": throttling.get("throttledTime", 0)}}


def memory_stats(data: dict[str, Any], v2: bool, machine: int) -> dict[str, Any]:
    memory = data.get("memory") or {}
    usage = memory.get("usage") or {}
    out: dict[str, Any] = {"usage": usage.get("usage", 0)}
    if not v2:  # cgroup v2 has neither (moby's statsV2 leaves them out)
        out["max_usage"] = usage.get("max", 0)
    out["stats"] = memory.get("raw") or {}
    if not v2:
        out["failcnt"] = usage.get("failcnt", 0)
    limit = usage.get("limit", 0)
    # no limit set: the cgroup's "unlimited" is huge; dockerd shows the machine's memory
    out["limit"] = machine if machine and limit > machine else limit
    return out


def blkio_stats(data: dict[str, Any]) -> dict[str, Any]:
    blkio = data.get("blkio") or {}
    out: dict[str, Any] = {k: None for k in _BLKIO_KEYS}
    for ours, theirs in (("ioServiceBytesRecursive", "io_service_bytes_recursive"),
                         ("ioServicedRecursive", "io_serviced_recursive")):
        entries = blkio.get(ours)
        if entries:
            out[theirs] = [{"major": e.get("major", 0), "minor": e.get("minor", 0), "op": e.get("op", ""),
                            "value": e.get("value", 0)} for e in entries]
    return out


def pids_stats(data: dict[str, Any]) -> dict[str, Any]:
    pids = data.get("pids") or {}
    out = {"current": pids.get("current", 0)}
    if pids.get("limit"):
        out["limit"] = pids["limit"]
    return out


