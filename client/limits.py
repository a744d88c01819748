"""Resource flags (run, create, update) as HostConfig fields, as the docker CLI sends them."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# flag dest -> HostConfig field; a flag not given is not sent (the daemon's default stands)
_FIELDS = (
    ("memory", "Memory"), ("memory_swap", "MemorySwap"), ("memory_reservation", "MemoryReservation"),
    ("cpus", "NanoCpus"), ("cpu_shares", "CpuShares"), ("cpu_period", "CpuPeriod"), ("cpu_quota", "CpuQuota"),
    ("cpu_rt_period", "CpuRealtimePeriod"), ("cpu_rt_runtime", "CpuRealtimeRuntime"),
    ("cpuset_cpus", "CpusetCpus"), ("cpuset_mems", "CpusetMems"), ("pids_limit", "PidsLimit"),
    ("oom_score_adj", "OomScoreAdj"), ("cgroup_parent", "CgroupParent"), ("blkio_weight", "BlkioWeight"),
    ("pid", "PidMode"), ("ipc", "IpcMode"), ("shm_size", "ShmSize"), ("uts", "UTSMode"),
    ("cgroupns", "CgroupnsMode"), ("memory_swappiness", "MemorySwappiness"),
)


def host_config(opts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dest, field in _FIELDS:
        value = opts.get(dest)
        if value is not None and value != "":
            out[field] = value
    if opts.get("oom_kill_disable"):
        out["OomKillDisable"] = True
    if opts.get("ulimit"):
        out["Ulimits"] = opts["ulimit"]
    return out


def restart_policy(text: str) -> dict[str, Any]:
    """--restart no|always|unless-stopped|on-failure[:N]: docker's opts.ParseRestartPolicy checks
    only the format; the daemon refuses unknown policies and misplaced counts."""
    from berth.client.lifecycle import restart_policy

    return restart_policy(text)
