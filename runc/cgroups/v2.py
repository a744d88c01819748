"""cgroup v2 (unified): one directory, limits written per the kernel's cgroup-v2.rst.

The file names and value conversions follow the kernel documentation and runc 1.1's
fs2 driver: memory.max / memory.low / memory.swap.max (= swap - limit, since v2
counts swap apart from memory), cpu.weight from shares, cpu.max "quota period",
cpuset.cpus/mems, pids.max, io.weight / io.max, hugetlb.<size>.max, cgroup.freeze,
cgroup.kill.

Device rules (linux.resources.devices) become an eBPF program attached to the
cgroup (see ebpf.py), since v2 has no devices.allow/deny files.
"""

from __future__ import annotations

import errno
import os
import select
import signal as _signal

from berth.runc.cgroups import _stats
from berth.runc.cgroups._fs import (CgroupError, all_procs, read_keyed, read_or, read_uint, remove_tree,
                                    signal_all, write)
from berth.runc.cgroups._proc import DEFAULT_ROOT, UNIFIED

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

_FREEZE_WAIT_MS = 10_000


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144) to cpu.weight (1..10000), runc 1.1's linear mapping."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight: int) -> int:
    """blkio.weight (10..1000) to io.weight (1..10000), as runc."""
    if weight == 0:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def swap_to_v2(swap: int, memory: int) -> int:
    """OCI's memory.swap is memory+swap (v1 memsw); memory.swap.max is swap alone."""
    if memory == -1 and swap == 0:
        return -1  # unlimited memory means unlimited swap too, unless swap was given
    if swap in (-1, 0):
        return swap
    if memory in (0, -1):
        raise CgroupError("unable to set swap limit without memory limit")
    if memory < 0:
        raise CgroupError(f"invalid memory value: {memory}")
    if swap < memory:
        raise CgroupError("memory+swap limit should be >= memory limit")
    return swap - memory


def _num(value: int) -> str:
    """runc's numToStr: 0 is "leave as is" (""), -1 is "max"."""
    if value == 0:
        return ""
    return "max" if value == -1 else str(value)


class V2Manager:
    """The container's cgroup in the unified hierarchy mounted at `root`.

    A plain class, not a dataclass: `dataclasses` pulls in `inspect` (~6 ms) on
    every `berth-runc create|run`.
    """

    __slots__ = ("path", "root")

    def __init__(self, path: str, root: str = DEFAULT_ROOT) -> None:
        self.path = path
        self.root = root

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, V2Manager):
            return NotImplemented
        return (self.path, self.root) == (other.path, other.root)

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass was

    def __repr__(self) -> str:
        return f"V2Manager(path={self.path!r}, root={self.root!r})"

    def paths(self) -> dict[str, str]:
        return {UNIFIED: self.path}

    def create(self) -> None:
        rel = os.path.relpath(self.path, self.root)
        if rel.startswith(".."):
            raise CgroupError(f"invalid cgroup path {self.path}")
        current = self.root
        parts = [] if rel == "." else rel.split("/")
        for part in parts:
            # Controllers must be enabled in every ancestor's subtree_control for the
            # child to get their files (cgroup-v2.rst, "Enabling and Disabling").
            _enable_controllers(current)
            current = os.path.join(current, part)
            os.makedirs(current, exist_ok=True)

    def apply(self, pid: int) -> None:
        write(self.path, "cgroup.procs", str(pid))

    def set(self, resources: dict[str, Any]) -> None:
        r = resources or {}
        if r.get("devices"):
            from berth.runc.cgroups.ebpf import apply_device_rules

            apply_device_rules(self.path, r["devices"])
        if r.get("memory"):
            self._set_memory(r["memory"])
        if r.get("cpu"):
            self._set_cpu(r["cpu"])
        if r.get("pids"):
            limit = int(r["pids"].get("limit") or 0)
            if limit:
                write(self.path, "pids.max", str(limit) if limit > 0 else "max")
        if r.get("blockIO"):
            self._set_io(r["blockIO"])
        for item in r.get("hugepageLimits") or []:
            write(self.path, f"hugetlb.{item['pageSize']}.max", str(int(item["limit"])))
        for key, value in (r.get("unified") or {}).items():
            self._set_unified(key, str(value))

    def _set_memory(self, memory: dict[str, Any]) -> None:
        limit = int(memory.get("limit") or 0)
        swap = int(memory.get("swap") or 0)
        swap_str = _num(swap_to_v2(swap, limit))
        if swap_str == "" and swap > 0:
            swap_str = "0"  # swap == limit: no swap at all
        if swap_str:
            try:
                write(self.path, "memory.swap.max", swap_str)
            except CgroupError as e:
                # Without swap accounting the file is absent; "max"/"0" then mean nothing.
                if not (getattr(e, "errno", None) == errno.ENOENT and swap_str in ("max", "0")):
                    raise
        if _num(limit):
            write(self.path, "memory.max", _num(limit))
        reservation = int(memory.get("reservation") or 0)
        if _num(reservation):
            write(self.path, "memory.low", _num(reservation))

    def _set_cpu(self, cpu: dict[str, Any]) -> None:
        weight = shares_to_weight(int(cpu.get("shares") or 0))
        if weight:
            write(self.path, "cpu.weight", str(weight))
        if cpu.get("idle") is not None:
            write(self.path, "cpu.idle", str(int(cpu["idle"])))
        quota = int(cpu.get("quota") or 0)
        period = int(cpu.get("period") or 0)
        if quota or period:
            value = str(quota) if quota > 0 else "max"
            if period:
                value += f" {period}"
            write(self.path, "cpu.max", value)
        if cpu.get("burst") is not None:
            write(self.path, "cpu.max.burst", str(int(cpu["burst"])))
        if cpu.get("cpus"):
            write(self.path, "cpuset.cpus", cpu["cpus"])
        if cpu.get("mems"):
            write(self.path, "cpuset.mems", cpu["mems"])

    def _set_io(self, blkio: dict[str, Any]) -> None:
        if blkio.get("weight"):
            if os.path.exists(os.path.join(self.path, "io.bfq.weight")):
                write(self.path, "io.bfq.weight", str(int(blkio["weight"])))
            else:
                write(self.path, "io.weight", str(blkio_weight_to_io_weight(int(blkio["weight"]))))
        for key, name in (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
                          ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops")):
            for dev in blkio.get(key) or []:
                write(self.path, "io.max", f"{dev['major']}:{dev['minor']} {name}={dev['rate']}")

    def _set_unified(self, key: str, value: str) -> None:
        if "/" in key or key.startswith("."):
            raise CgroupError(f"unified resource {key!r} must be a file name (no path)")
        try:
            write(self.path, key, value)
        except CgroupError as e:
            if getattr(e, "errno", None) == errno.ENOENT:
                controller = key.split(".", 1)[0]
                raise CgroupError(f"unified resource {key!r} can't be set: controller {controller!r} "
                                  "not available") from e
            raise

    def freeze(self) -> None:
        self._freeze_to("1")

    def thaw(self) -> None:
        self._freeze_to("0")

    def _freeze_to(self, want: str) -> None:
        write(self.path, "cgroup.freeze", want)
        # The kernel freezes asynchronously and says so in cgroup.events, which
        # signals every change to poll() as POLLPRI (cgroup-v2.rst, "Core Interface Files").
        fd = os.open(os.path.join(self.path, "cgroup.events"), os.O_RDONLY | os.O_CLOEXEC)
        try:
            poller = select.poll()
            poller.register(fd, select.POLLPRI | select.POLLERR)
            waited = 0
            while True:
                os.lseek(fd, 0, os.SEEK_SET)
                events = os.read(fd, 4096).decode()
                if f"frozen {want}" in events.splitlines():
                    return
                if waited >= _FREEZE_WAIT_MS:
                    break
                poller.poll(100)
                waited += 100
        finally:
            os.close(fd)
        if want == "1":
            write(self.path, "cgroup.freeze", "0")
            raise CgroupError("unable to freeze")
        raise CgroupError("unable to thaw")

    def is_frozen(self) -> bool:
        return read_keyed(self.path, "cgroup.events").get("frozen") == 1

    def pids(self) -> list[int]:
        return all_procs(self.path)

    def kill_all(self, signal: int) -> None:
        """SIGKILL through cgroup.kill (Linux 5.14+), which races no fork; else freeze, signal, thaw."""
        if signal == _signal.SIGKILL and os.path.exists(os.path.join(self.path, "cgroup.kill")):
            write(self.path, "cgroup.kill", "1")
            return
        signal_all(self, signal)

    def stats(self) -> dict[str, Any]:
        data = _stats.empty()
        data["cpu"] = self._cpu_stats()
        data["cpuset"] = self._cpuset_stats()
        data["memory"] = self._memory_stats()
        data["pids"] = _stats.drop_zero({"current": read_uint(self.path, "pids.current"),
                                         "limit": read_uint(self.path, "pids.max")})
        data["blkio"] = self._io_stats()
        data["hugetlb"] = self._hugetlb_stats()
        keys = ("cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces")
        return {k: data[k] for k in keys}

    def _cpu_stats(self) -> dict[str, Any]:
        st = read_keyed(self.path, "cpu.stat")
        usage = _stats.drop_zero({"kernel": st.get("system_usec", 0) * 1000, "user": st.get("user_usec", 0) * 1000,
                                  "total": st.get("usage_usec", 0) * 1000}, "kernel", "user")
        throttling = _stats.drop_zero({"periods": st.get("nr_periods", 0),
                                       "throttledPeriods": st.get("nr_throttled", 0),
                                       "throttledTime": st.get("throttled_usec", 0) * 1000})
        return {"usage": usage, "throttling": throttling}

    def _cpuset_stats(self) -> dict[str, Any]:
        cpus = read_or(self.path, "cpuset.cpus") or read_or(self.path, "cpuset.cpus.effective")
        mems = read_or(self.path, "cpuset.mems") or read_or(self.path, "cpuset.mems.effective")
        return _stats.drop_zero({"cpus": _stats.parse_list(cpus), "mems": _stats.parse_list(mems)})

    def _memory_stats(self) -> dict[str, Any]:
        usage = read_uint(self.path, "memory.current")
        limit = read_uint(self.path, "memory.max", _stats.MAX_UINT64)
        peak = read_uint(self.path, "memory.peak")
        swap_usage = read_uint(self.path, "memory.swap.current")
        swap_limit = read_uint(self.path, "memory.swap.max", _stats.MAX_UINT64)
        # runc reports v1-style mem+swap in "swap" so that consumers see one meaning.
        if swap_limit != _stats.MAX_UINT64:
            swap_limit += limit
        failcnt = read_keyed(self.path, "memory.events").get("max", 0)
        raw = read_keyed(self.path, "memory.stat")
        return _stats.drop_zero({
            "cache": raw.get("file", 0),
            "usage": _stats.memory_entry(limit, usage, peak, failcnt),
            "swap": _stats.memory_entry(swap_limit, swap_usage + usage),
            "kernel": _stats.memory_entry(),
            "kernelTCP": _stats.memory_entry(),
            "raw": dict(sorted(raw.items())),
        }, "usage", "swap", "kernel", "kernelTCP")

    def _io_stats(self) -> dict[str, Any]:
        service_bytes: list[dict[str, Any]] = []
        serviced: list[dict[str, Any]] = []
        for line in read_or(self.path, "io.stat").splitlines():
            dev, *fields = line.split()
            major, minor = (int(x) for x in dev.split(":"))
            kv = dict(f.split("=", 1) for f in fields if "=" in f)
            for key, op, target in (("rbytes", "Read", service_bytes), ("wbytes", "Write", service_bytes),
                                    ("rios", "Read", serviced), ("wios", "Write", serviced)):
                if key in kv:
                    target.append({"major": major, "minor": minor, "op": op, "value": int(kv[key])})
        return _stats.drop_zero({"ioServiceBytesRecursive": service_bytes, "ioServicedRecursive": serviced})

    def _hugetlb_stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        names = os.listdir(self.path) if os.path.isdir(self.path) else []
        for name in sorted(names):
            if name.startswith("hugetlb.") and name.endswith(".current") and ".rsvd." not in name:
                size = name[len("hugetlb."):-len(".current")]
                out[size] = _stats.drop_zero({
                    "usage": read_uint(self.path, name),
                    "failcnt": read_keyed(self.path, f"hugetlb.{size}.events").get("max", 0),
                }, "failcnt")
        return out

    def destroy(self) -> None:
        remove_tree(self.path)


def _enable_controllers(directory: str) -> None:
    """Enable in `directory`'s subtree_control every controller it has available.

    All at once first; if the kernel refuses one (a threaded-only controller, a busy
    cgroup), one by one, ignoring refusals: a limit that then cannot be written fails
    at set() with the file's own error, as in runc.
    """
    available = read_or(directory, "cgroup.controllers").split()
    enabled = set(read_or(directory, "cgroup.subtree_control").split())
    wanted = [c for c in available if c not in enabled]
    if not wanted:
        return
    try:
        write(directory, "cgroup.subtree_control", " ".join("+" + c for c in wanted))
    except CgroupError:
        for controller in wanted:
            try:
                write(directory, "cgroup.subtree_control", "+" + controller)
            except CgroupError:
                pass
