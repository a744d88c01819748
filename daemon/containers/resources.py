"""HostConfig's resource fields: checked with dockerd's words, and turned into the OCI
spec's linux.resources, process.rlimits and process.oomScoreAdj (moby's
verifyPlatformContainerResources, adaptContainerSettings and oci_linux.go), plus the
merge `POST /containers/{id}/update` does (moby's container.UpdateContainer)."""

from __future__ import annotations

import os
from typing import Any

MIN_MEMORY = 6 * 1024 * 1024  # dockerd's linuxMinMemory
_CFS_PERIOD = 100_000  # µs: the period --cpus is expressed in

# The fields `update` may change (moby's container.Resources as UpdateContainer copies them).
UPDATABLE = ("BlkioWeight", "CpuShares", "NanoCpus", "CpuPeriod", "CpuQuota", "CpusetCpus", "CpusetMems",
             "Memory", "MemorySwap", "MemoryReservation", "PidsLimit", "CpuRealtimePeriod",
             "CpuRealtimeRuntime")

ULIMITS = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
           "rss", "rtprio", "rttime", "sigpending", "stack")


def _int(host: dict[str, Any], key: str) -> int:
    value = host.get(key)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0


def _online_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def _cpu_list(text: str) -> list[int] | None:
    """A cpuset list ("0-3,8"), or None when it is not one (docker's parsers.ParseUintList)."""
    out: list[int] = []
    for part in text.split(","):
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            return None
        if dash and int(hi) < int(lo):
            return None
        out.extend(range(int(lo), int(hi if dash else lo) + 1))
    return out


def _mem_nodes() -> list[int]:
    try:
        with open("/sys/devices/system/node/online") as f:
            return _cpu_list(f.read().strip()) or [0]
    except OSError:
        return [0]


def validate(host: dict[str, Any], update: bool = False) -> None:
    """Refuse what dockerd refuses (ValueError, its message); on create, fill in its defaults."""
    memory, swap, reservation = _int(host, "Memory"), _int(host, "MemorySwap"), _int(host, "MemoryReservation")
    if memory and memory < MIN_MEMORY:
        raise ValueError("Minimum memory limit allowed is 6MB")
    if memory > 0 and 0 < swap < memory:
        raise ValueError("Minimum memoryswap limit should be larger than memory limit, see usage")
    if not update and memory == 0 and swap > 0:
        raise ValueError("You should always set the Memory limit when using Memoryswap limit, see usage")
    if reservation and reservation < MIN_MEMORY:
        raise ValueError("Minimum memory reservation allowed is 6MB")
    if memory > 0 and reservation > 0 and memory < reservation:
        raise ValueError("Minimum memory limit can not be less than memory reservation limit, see usage")
    swappiness = host.get("MemorySwappiness")
    if isinstance(swappiness, int) and swappiness != -1 and not 0 <= swappiness <= 100:
        raise ValueError(f"Invalid value: {swappiness}, valid memory swappiness range is 0-100")
    nano, period, quota = _int(host, "NanoCpus"), _int(host, "CpuPeriod"), _int(host, "CpuQuota")
    if nano > 0 and period > 0:
        raise ValueError("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano > 0 and quota > 0:
        raise ValueError("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    ncpu = len(_online_cpus())
    if nano < 0 or nano > ncpu * 1_000_000_000:
        raise ValueError(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")
    if period and not 1000 <= period <= 1_000_000:
        raise ValueError("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if 0 < quota < 1000:
        raise ValueError("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    for key, what, available in (("CpusetCpus", "CPUs", _online_cpus), ("CpusetMems", "memory nodes", _mem_nodes)):
        text = host.get(key) or ""
        if not text:
            continue
        wanted = _cpu_list(text)
        if wanted is None:
            raise ValueError(f"Invalid value {text} for cpuset {'cpus' if key == 'CpusetCpus' else 'mems'}")
        have = available()
        if not set(wanted) <= set(have):
            raise ValueError(f"Requested {what} are not available - requested {text}, "
                             f"available: {_list_text(have)}")
    weight = _int(host, "BlkioWeight")
    if weight and not 10 <= weight <= 1000:
        raise ValueError("Range of blkio weight is from 10 to 1000")
    oom = _int(host, "OomScoreAdj")
    if not -1000 <= oom <= 1000:
        raise ValueError(f"Invalid value {oom}, range for oom score adj is [-1000, 1000]")
    for u in host.get("Ulimits") or []:
        name = (u or {}).get("Name") if isinstance(u, dict) else None
        if name not in ULIMITS:
            raise ValueError(f"invalid ulimit type: {name}")
    if not update and memory > 0 and swap == 0:
        host["MemorySwap"] = memory * 2  # dockerd's default: as much swap as memory
    if not update and host.get("PidsLimit") is not None and _int(host, "PidsLimit") <= 0:
        host["PidsLimit"] = None  # dockerd's normalisation: zero or less is unlimited


def _list_text(cpus: list[int]) -> str:
    """The kernel's list form: 0-3,8."""
    runs: list[str] = []
    for c in cpus:
        if runs and "-" in runs[-1] and int(runs[-1].split("-")[1]) == c - 1:
            runs[-1] = f"{runs[-1].split('-')[0]}-{c}"
        elif runs and "-" not in runs[-1] and int(runs[-1]) == c - 1:
            runs[-1] = f"{runs[-1]}-{c}"
        else:
            runs.append(str(c))
    return ",".join(runs)


def linux_resources(host: dict[str, Any], update: bool = False) -> dict[str, Any]:
    """linux.resources (devices aside) from HostConfig, as dockerd's oci_linux.go fills it.

    For update, "unlimited" must be said (-1), as a field left out keeps its value."""
    res: dict[str, Any] = {}
    memory: dict[str, Any] = {}
    for key, field in (("Memory", "limit"), ("MemorySwap", "swap"), ("MemoryReservation", "reservation")):
        if _int(host, key):
            memory[field] = _int(host, key)
    swappiness = host.get("MemorySwappiness")
    if isinstance(swappiness, int) and swappiness != -1:
        memory["swappiness"] = swappiness
    if host.get("OomKillDisable"):
        memory["disableOOMKiller"] = True
    cpu: dict[str, Any] = {}
    if _int(host, "CpuShares"):
        cpu["shares"] = _int(host, "CpuShares")
    if _int(host, "NanoCpus"):
        cpu["period"] = _CFS_PERIOD
        cpu["quota"] = _int(host, "NanoCpus") * _CFS_PERIOD // 1_000_000_000
    else:
        for key, field in (("CpuPeriod", "period"), ("CpuQuota", "quota")):
            if _int(host, key):
                cpu[field] = _int(host, key)
    for key, field in (("CpuRealtimePeriod", "realtimePeriod"), ("CpuRealtimeRuntime", "realtimeRuntime")):
        if _int(host, key):
            cpu[field] = _int(host, key)
    for key, field in (("CpusetCpus", "cpus"), ("CpusetMems", "mems")):
        if host.get(key):
            cpu[field] = host[key]
    if memory:
        res["memory"] = memory
    if cpu:
        res["cpu"] = cpu
    pids = _int(host, "PidsLimit")
    if pids > 0 or (update and host.get("PidsLimit") is not None):
        res["pids"] = {"limit": pids if pids > 0 else -1}
    if _int(host, "BlkioWeight"):
        res["blockIO"] = {"weight": _int(host, "BlkioWeight")}
    return res


def process_settings(host: dict[str, Any]) -> dict[str, Any]:
    """process.rlimits and process.oomScoreAdj from Ulimits and OomScoreAdj."""
    out: dict[str, Any] = {"oomScoreAdj": _int(host, "OomScoreAdj")}
    limits = [{"type": "RLIMIT_" + u["Name"].upper(), "hard": int(u.get("Hard") or 0), "soft": int(u.get("Soft") or 0)}
              for u in host.get("Ulimits") or [] if isinstance(u, dict)]
    if limits:
        out["rlimits"] = limits
    return out


class UpdateConflict(ValueError):
    """An update dockerd refuses as conflicting with what the container has (409)."""


def merge_update(host: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """HostConfig after `update` (moby's UpdateContainer): set fields replace, zero ones keep."""
    new = dict(host)
    memory, swap = _int(body, "Memory"), _int(body, "MemorySwap")
    if memory and memory > _int(host, "MemorySwap") and swap == 0:
        raise UpdateConflict("Memory limit should be smaller than already set memoryswap limit, "
                             "update the memoryswap at the same time")
    if _int(body, "NanoCpus") and (_int(host, "CpuPeriod") or _int(host, "CpuQuota")):
        raise UpdateConflict("Conflicting options: Nano CPUs cannot be updated as CPU Period "
                             "has already been set" if _int(host, "CpuPeriod") else
                             "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set")
    if (_int(body, "CpuQuota") or _int(body, "CpuPeriod")) and _int(host, "NanoCpus"):
        raise UpdateConflict("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"
                             if _int(body, "CpuQuota") else
                             "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set")
    for key in UPDATABLE:
        value = body.get(key)
        if key == "PidsLimit":
            if value is not None:
                new[key] = value if value > 0 else 0
        elif value:
            new[key] = value
    restart = body.get("RestartPolicy")
    if isinstance(restart, dict) and restart.get("Name") is not None:
        if host.get("AutoRemove") and restart.get("Name") not in ("", "no"):
            raise UpdateConflict("Restart policy cannot be updated because AutoRemove is enabled for the container")
        new["RestartPolicy"] = {"Name": restart.get("Name") or "", "MaximumRetryCount":
                                int(restart.get("MaximumRetryCount") or 0)}
    return new
