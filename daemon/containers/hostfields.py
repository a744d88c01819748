"""The HostConfig fields berth does not implement, answered as dockerd on Linux answers them
(moby's validateHostConfig, validateResources/validateQoS/validateIsolation and
verifyPlatformContainerResources): its 400 for what it refuses, its warning (in the create
answer's Warnings) for what it discards, the field then stored as dockerd stores it (zero).
And the few it fills or passes into the spec: Annotations, MaskedPaths/ReadonlyPaths, the
Block IO device weights and throttles, OomKillDisable.

A field nobody can honour is never stored as if it were: every value here is either
refused, discarded with a warning, or in the spec.
"""

from __future__ import annotations

import os
import stat
from typing import Any, Callable

from ..kernel import cgroup_v2
from ..security.confine import MASKED_PATHS, READONLY_PATHS
from .fieldnames import HOST_CONFIG
from .lifecycle import host_config

_BLKIO_V1 = "/sys/fs/cgroup/blkio"


def _num(host: dict[str, Any], key: str) -> int:
    value = host.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _blkio_weight_supported() -> bool:
    """dockerd's sysinfo: blkio.weight (CFQ) or blkio.bfq.weight (BFQ), v2's io.weight."""
    if cgroup_v2():
        with open("/sys/fs/cgroup/cgroup.controllers") as f:
            return "io" in f.read().split()
    return any(os.path.exists(os.path.join(_BLKIO_V1, f)) for f in ("blkio.weight", "blkio.bfq.weight"))


def _memory_file(name: str) -> bool:
    return os.path.exists(os.path.join("/sys/fs/cgroup/memory", name))


# (is it set?, dockerd's warning, the fields it zeroes): verifyPlatformContainerResources.
_DISCARDED: list[tuple[Callable[[dict[str, Any]], bool], str, tuple[str, ...]]] = [
    (lambda h: _num(h, "KernelMemory") > 0,
     "Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. "
     "Limitation discarded.", ("KernelMemory",)),
    (lambda h: _num(h, "KernelMemoryTCP") > 0,
     "Your kernel does not support kernel memory TCP limit capabilities or the cgroup is not mounted. "
     "Limitation discarded.", ("KernelMemoryTCP",)),
    (lambda h: _num(h, "CpuPercent") > 0, "linux does not support CPU percent. Percent discarded.", ("CpuPercent",)),
    (lambda h: _num(h, "CpuCount") > 0, "linux does not support CPU count. Count discarded.", ("CpuCount",)),
    (lambda h: _num(h, "BlkioWeight") > 0 and not _blkio_weight_supported(),
     "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
     ("BlkioWeight",)),
    (lambda h: bool(h.get("BlkioWeightDevice")) and not _blkio_weight_supported(),
     "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. "
     "Weight-device discarded.", ("BlkioWeightDevice",)),
]


def warnings(host: dict[str, Any]) -> list[str]:
    """dockerd's Warnings for this HostConfig, as the request sent it (before `check`)."""
    out = [text for applies, text, _ in _DISCARDED if applies(host)]
    if host.get("OomKillDisable") and not _num(host, "Memory"):
        out.append("OOM killer is disabled for the container, but no memory limit is set, this can result "
                   "in the system running out of resources.")
    if (host.get("NetworkMode") or "") == "host" and host.get("PortBindings"):
        out.append("Published ports are discarded when using host network mode")
    return out


def request_warnings(body: dict[str, Any]) -> list[str]:
    """`warnings` of a create body, its HostConfig taken as create takes it (lifecycle's
    host_config, on a copy: the body stays whole for create)."""
    return warnings(host_config(dict(body), HOST_CONFIG.names))


def check(config: dict[str, Any], host: dict[str, Any]) -> None:
    """dockerd's refusals (ValueError, its words); then what it discards, zeroed. Config's
    NetworkDisabled and HostConfig.Cgroup (another container's cgroup), which berth does not
    implement, are refused in berth's words."""
    if config.get("NetworkDisabled"):
        raise ValueError("NetworkDisabled is not supported by berth: use NetworkMode none (--network none)")
    if host.get("Cgroup"):
        raise ValueError(f"HostConfig.Cgroup ({host['Cgroup']}) is not supported by berth")
    isolation = host.get("Isolation") or ""
    if isolation.lower() not in ("", "default"):
        raise ValueError(f"invalid isolation '{isolation}' on linux")
    if _num(host, "IOMaximumBandwidth") or _num(host, "IOMaximumIOps"):
        raise ValueError("Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps")
    period, runtime = _num(host, "CpuRealtimePeriod"), _num(host, "CpuRealtimeRuntime")
    if (period or runtime) and not os.path.exists("/sys/fs/cgroup/cpu/cpu.rt_runtime_us"):
        raise ValueError("kernel does not support CPU real-time scheduler")
    if period and runtime and runtime > period:
        raise ValueError("cpu real-time runtime cannot be higher than cpu real-time period")
    if _num(host, "CpuShares") < 0:
        raise ValueError(f"invalid CPU shares ({_num(host, 'CpuShares')}): value must be a positive integer")
    for key in (host.get("Annotations") or {}):
        if key == "":
            raise ValueError("invalid Annotations: the empty string is not permitted as an annotation key")
    for req in host.get("DeviceRequests") or []:
        caps = [list(c) for c in (req or {}).get("Capabilities") or []]
        caps_text = "[" + " ".join("[" + " ".join(c) + "]" for c in caps) + "]"
        raise ValueError(f'could not select device driver "{(req or {}).get("Driver") or ""}" with '
                         f"capabilities: {caps_text}")
    if host.get("StorageOpt"):
        raise ValueError("--storage-opt is supported only for overlay over xfs with 'pquota' mount option")
    driver = host.get("VolumeDriver") or ""
    if driver not in ("", "local"):
        raise ValueError(f'error looking up volume plugin {driver}: plugin "{driver}" not found')
    for key in ("BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps",
                "BlkioDeviceWriteIOps"):
        for dev in host.get(key) or []:
            _block_device(dev)
    for applies, _, fields in _DISCARDED:
        if applies(host):
            for f in fields:
                host[f] = [] if f == "BlkioWeightDevice" else 0


def _block_device(dev: Any) -> tuple[int, int]:
    path = str(dev.get("Path") or "") if isinstance(dev, dict) else ""
    try:
        st = os.stat(path)
    except OSError as e:
        raise ValueError(f"stat {path}: {(e.strerror or str(e)).lower()}") from None
    if not stat.S_ISBLK(st.st_mode):
        raise ValueError(f"{path} is not a block device")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def fill(host: dict[str, Any]) -> None:
    """As dockerd stores them (create_unix.go, adaptContainerSettings): the default masked and
    read-only paths unless privileged or given, OomKillDisable false."""
    if not host.get("Privileged"):
        if host.get("MaskedPaths") is None:
            host["MaskedPaths"] = list(MASKED_PATHS)
        if host.get("ReadonlyPaths") is None:
            host["ReadonlyPaths"] = list(READONLY_PATHS)
    if host.get("OomKillDisable") is None:
        host["OomKillDisable"] = False


def adjust_spec(oci: dict[str, Any], host: dict[str, Any]) -> None:
    """The user's annotations (berth's own keys, set after, win), the paths to mask, and the
    Block IO device rules."""
    if host.get("Annotations"):
        oci.setdefault("annotations", {}).update({str(k): str(v) for k, v in host["Annotations"].items()})
    linux = oci["linux"]
    if not host.get("Privileged"):
        if host.get("MaskedPaths") is not None:
            linux["maskedPaths"] = list(host["MaskedPaths"])
        if host.get("ReadonlyPaths") is not None:
            linux["readonlyPaths"] = list(host["ReadonlyPaths"])
    blkio: dict[str, Any] = {}
    weights = []
    for dev in host.get("BlkioWeightDevice") or []:
        major, minor = _block_device(dev)
        weights.append({"major": major, "minor": minor, "weight": int(dev.get("Weight") or 0)})
    if weights:
        blkio["weightDevice"] = weights
    for key, field in (("BlkioDeviceReadBps", "throttleReadBpsDevice"), ("BlkioDeviceWriteBps", "throttleWriteBpsDevice"),
                       ("BlkioDeviceReadIOps", "throttleReadIOPSDevice"),
                       ("BlkioDeviceWriteIOps", "throttleWriteIOPSDevice")):
        rules = []
        for dev in host.get(key) or []:
            major, minor = _block_device(dev)
            rules.append({"major": major, "minor": minor, "rate": int(dev.get("Rate") or 0)})
        if rules:
            blkio[field] = rules
    if blkio:
        resources = linux.setdefault("resources", {})
        resources["blockIO"] = {**(resources.get("blockIO") or {}), **blkio}
