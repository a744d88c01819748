"""cgroup v1: one directory per mounted controller (and, on hybrid hosts, the unified one).

Writes the same files, in the same order and with the same values, as runc 1.1's
cgroupfs driver (libcontainer/cgroups/fs), so that a bundle under runc and under
berth-runc leaves identical limits on the host.
"""

from __future__ import annotations

import errno
import os
import time

from berth.runc.cgroups import stats_v1
from berth.runc.cgroups._fs import (CgroupError, all_procs, read, read_or, read_uint, remove_tree,
                                    signal_all, write)
from berth.runc.cgroups._proc import UNIFIED
from berth.runc.cgroups.devices_v1 import set_v1 as _set_devices

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

_FREEZE_TRIES = 1000


class V1Manager:
    """The container's cgroup in every v1 hierarchy: subsystem name -> directory.

    A plain class, not a dataclass: `dataclasses` pulls in `inspect` (~6 ms) on
    every `berth-runc create|run`.
    """

    __slots__ = ("cgroup_paths",)

    def __init__(self, cgroup_paths: dict[str, str] | None = None) -> None:
        self.cgroup_paths: dict[str, str] = {} if cgroup_paths is None else cgroup_paths

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, V1Manager):
            return NotImplemented
        return self.cgroup_paths == other.cgroup_paths

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass was

    def __repr__(self) -> str:
        return f"V1Manager(cgroup_paths={self.cgroup_paths!r})"

    def paths(self) -> dict[str, str]:
        return dict(self.cgroup_paths)

    def _path(self, subsystem: str) -> str:
        return self.cgroup_paths.get(subsystem, "")

    def create(self) -> None:
        for name, path in self.cgroup_paths.items():
            if name == "cpuset":
                _ensure_cpuset(path)
            else:
                os.makedirs(path, exist_ok=True)

    def apply(self, pid: int) -> None:
        for path in self.cgroup_paths.values():
            write(path, "cgroup.procs", str(pid))

    def set(self, resources: dict[str, Any]) -> None:
        r = resources or {}
        if r.get("unified"):
            raise CgroupError("invalid configuration: cannot use unified on cgroup v1")
        steps = (
            ("cpuset", _set_cpuset, r.get("cpu")),
            ("devices", _set_devices, r.get("devices")),
            ("memory", _set_memory, r.get("memory")),
            ("cpu", _set_cpu, r.get("cpu")),
            ("pids", _set_pids, r.get("pids")),
            ("blkio", _set_blkio, r.get("blockIO")),
            ("hugetlb", _set_hugetlb, r.get("hugepageLimits")),
            ("net_cls", _set_net_cls, r.get("network")),
            ("net_prio", _set_net_prio, r.get("network")),
        )
        for subsystem, setter, section in steps:
            if not section:
                continue
            path = self._path(subsystem)
            if not path:
                if _wants_change(subsystem, section):
                    raise CgroupError(f"cannot set {subsystem} limit: container could not join or create cgroup")
                continue
            setter(path, section)

    def freeze(self) -> None:
        path = self._require("freezer")
        for i in range(_FREEZE_TRIES):
            # The v1 freezer can stay FREEZING while tasks keep forking; like runc,
            # thaw now and then to let it settle, and give up (thawed) in the end.
            if i % 50 == 49:
                write(path, "freezer.state", "THAWED")
                time.sleep(0.01)
            write(path, "freezer.state", "FROZEN")
            state = read(path, "freezer.state").strip()
            if state == "FROZEN":
                return
            if state != "FREEZING":
                raise CgroupError(f"unexpected state {state} after writing FROZEN")
        write(path, "freezer.state", "THAWED")
        raise CgroupError("unable to freeze")

    def thaw(self) -> None:
        write(self._require("freezer"), "freezer.state", "THAWED")

    def is_frozen(self) -> bool:
        path = self._path("freezer")
        return bool(path) and read_or(path, "freezer.state").strip() == "FROZEN"

    def pids(self) -> list[int]:
        for name in ("pids", "devices", "freezer", "memory", "cpu", UNIFIED):
            if self._path(name):
                return all_procs(self._path(name))
        return []

    def kill_all(self, signal: int) -> None:
        """Signal every process, frozen first so none can fork past us (runc's signalAllProcesses)."""
        signal_all(self, signal, freeze=bool(self._path("freezer")))

    def stats(self) -> dict[str, Any]:
        return _order(stats_v1.collect(self._path))

    def destroy(self) -> None:
        errors: list[str] = []
        for path in self.cgroup_paths.values():
            try:
                remove_tree(path)
            except CgroupError as e:
                errors.append(str(e))
        if errors:
            raise CgroupError(errors[0])

    def _require(self, subsystem: str) -> str:
        path = self._path(subsystem)
        if not path:
            raise CgroupError(f"cgroup {subsystem} subsystem is not mounted")
        return path


def _order(data: dict[str, Any]) -> dict[str, Any]:
    keys = ("cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces")
    return {k: data[k] for k in keys if k in data}


def _wants_change(subsystem: str, section: Any) -> bool:
    """Whether a section asks for anything of `subsystem` (an unmounted one is fine if not)."""
    if subsystem == "cpuset":
        return bool(section.get("cpus") or section.get("mems"))
    if subsystem == "net_cls":
        return bool(section.get("classID"))
    if subsystem == "net_prio":
        return bool(section.get("priorities"))
    if subsystem == "devices":
        return False  # runc treats device rules on a host without the controller as a no-op
    if isinstance(section, dict):
        return any(v not in (None, 0, "", [], {}) for v in section.values())
    return bool(section)


# --- creating -----------------------------------------------------------------------

def _ensure_cpuset(path: str) -> None:
    """mkdir the cpuset cgroup and its parents, giving each the parent's cpus/mems.

    A new v1 cpuset cgroup starts with empty cpuset.cpus/mems and refuses tasks
    (ENOSPC) until they are filled; runc copies them down from the parent.
    """
    def has_cpus(d: str) -> bool:
        return os.path.exists(os.path.join(d, "cpuset.cpus"))

    chain: list[str] = []
    current = path
    while not (has_cpus(current) and not has_cpus(os.path.dirname(current))):  # stop at the mount root
        parent = os.path.dirname(current)
        if parent == current:
            raise CgroupError(f"cpuset hierarchy not found above {path}")
        chain.append(current)
        current = parent
    for directory in reversed(chain):
        os.makedirs(directory, exist_ok=True)
        parent = os.path.dirname(directory)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if not read_or(directory, name).strip():
                write(directory, name, read(parent, name))


# --- setting ------------------------------------------------------------------------

def _set_cpuset(path: str, cpu: dict[str, Any]) -> None:
    if cpu.get("cpus"):
        write(path, "cpuset.cpus", cpu["cpus"])
    if cpu.get("mems"):
        write(path, "cpuset.mems", cpu["mems"])


def _set_memory(path: str, memory: dict[str, Any]) -> None:
    limit = int(memory.get("limit") or 0)
    swap = int(memory.get("swap") or 0)
    has_swap = os.path.exists(os.path.join(path, "memory.memsw.limit_in_bytes"))
    if limit == -1 and swap == 0 and has_swap:
        swap = -1  # unlimited memory means unlimited swap too, unless swap was given
    if limit and swap:
        current = read_uint(path, "memory.limit_in_bytes")
        # The kernel wants memsw >= limit at every moment: raise swap first when growing.
        if swap == -1 or current < swap:
            _write_swap(path, swap)
            _write_limit(path, limit)
            swap = limit = 0
    _write_limit(path, limit)
    _write_swap(path, swap)
    if memory.get("reservation"):
        write(path, "memory.soft_limit_in_bytes", str(int(memory["reservation"])))
    if memory.get("disableOOMKiller"):
        write(path, "memory.oom_control", "1")
    swappiness = memory.get("swappiness")
    if swappiness is not None and int(swappiness) != -1:
        if not 0 <= int(swappiness) <= 100:
            raise CgroupError(f"invalid memory swappiness value: {swappiness} (valid range is 0-100)")
        write(path, "memory.swappiness", str(int(swappiness)))


def _write_limit(path: str, limit: int) -> None:
    if not limit:
        return
    try:
        write(path, "memory.limit_in_bytes", str(limit))
    except CgroupError as e:
        if getattr(e, "errno", None) == errno.EBUSY:
            usage = read_uint(path, "memory.usage_in_bytes")
            peak = read_uint(path, "memory.max_usage_in_bytes")
            raise CgroupError(f"unable to set memory limit to {limit} (current usage: {usage}, "
                              f"peak usage: {peak})") from e
        raise


def _write_swap(path: str, swap: int) -> None:
    if swap:
        write(path, "memory.memsw.limit_in_bytes", str(swap))


def _set_cpu(path: str, cpu: dict[str, Any]) -> None:
    shares = int(cpu.get("shares") or 0)
    if shares:
        write(path, "cpu.shares", str(shares))
        # The kernel clamps shares silently (2..262144); runc reports the clamp.
        got = read_uint(path, "cpu.shares")
        if shares > got:
            raise CgroupError(f"the maximum allowed cpu-shares is {got}")
        if shares < got:
            raise CgroupError(f"the minimum allowed cpu-shares is {got}")
    period = int(cpu.get("period") or 0)
    quota = int(cpu.get("quota") or 0)
    pending_period = ""
    if period:
        try:
            write(path, "cpu.cfs_period_us", str(period))
        except CgroupError as e:
            # A shorter period can be refused (EINVAL) until the new quota is in.
            if getattr(e, "errno", None) != errno.EINVAL or not quota:
                raise
            pending_period = str(period)
    if quota:
        write(path, "cpu.cfs_quota_us", str(quota))
        if pending_period:
            write(path, "cpu.cfs_period_us", pending_period)
    if cpu.get("burst") is not None:
        write(path, "cpu.cfs_burst_us", str(int(cpu["burst"])))
    if cpu.get("realtimePeriod"):
        write(path, "cpu.rt_period_us", str(int(cpu["realtimePeriod"])))
    if cpu.get("realtimeRuntime"):
        write(path, "cpu.rt_runtime_us", str(int(cpu["realtimeRuntime"])))
    if cpu.get("idle") is not None:
        write(path, "cpu.idle", str(int(cpu["idle"])))


def _set_pids(path: str, pids: dict[str, Any]) -> None:
    limit = int(pids.get("limit") or 0)
    if limit:
        write(path, "pids.max", str(limit) if limit > 0 else "max")


def _set_blkio(path: str, blkio: dict[str, Any]) -> None:
    weight_file = "blkio.weight"
    if not os.path.exists(os.path.join(path, weight_file)):
        weight_file = "blkio.bfq.weight"
    if blkio.get("weight"):
        write(path, weight_file, str(int(blkio["weight"])))
    if blkio.get("leafWeight"):
        write(path, "blkio.leaf_weight", str(int(blkio["leafWeight"])))
    for dev in blkio.get("weightDevice") or []:
        if dev.get("weight"):
            write(path, "blkio.weight_device", f"{dev['major']}:{dev['minor']} {dev['weight']}")
        if dev.get("leafWeight"):
            write(path, "blkio.leaf_weight_device", f"{dev['major']}:{dev['minor']} {dev['leafWeight']}")
    for key, name in (("throttleReadBpsDevice", "read_bps_device"), ("throttleWriteBpsDevice", "write_bps_device"),
                      ("throttleReadIOPSDevice", "read_iops_device"),
                      ("throttleWriteIOPSDevice", "write_iops_device")):
        for dev in blkio.get(key) or []:
            write(path, f"blkio.throttle.{name}", f"{dev['major']}:{dev['minor']} {dev['rate']}")


def _set_hugetlb(path: str, limits: list[dict[str, Any]]) -> None:
    for item in limits:
        write(path, f"hugetlb.{item['pageSize']}.limit_in_bytes", str(int(item["limit"])))


def _set_net_cls(path: str, network: dict[str, Any]) -> None:
    if network.get("classID"):
        write(path, "net_cls.classid", str(int(network["classID"])))


def _set_net_prio(path: str, network: dict[str, Any]) -> None:
    for prio in network.get("priorities") or []:
        write(path, "net_prio.ifpriomap", f"{prio['name']} {prio['priority']}")
