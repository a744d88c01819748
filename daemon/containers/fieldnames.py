"""JSON field names matched without regard to case, as Go's encoding/json does for
dockerd's request bodies: `{"hostconfig": {"autoremove": true}}` is HostConfig.AutoRemove,
and the docker SDK's `CPURealtimePeriod` is HostConfig.CpuRealtimePeriod.

berthd keeps every field a client sends, used or not (inspect shows them back), so the
names are folded against Docker's whole structs (API v1.45's swagger plus the Go structs'
untagged fields), not only against the fields berth reads. A key that names no Docker
field passes through as it was sent. Maps keyed by the user (Labels, ExposedPorts,
PortBindings' ports, Sysctls, ...) are never folded: only the keys of Docker's structs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class Shape:
    """One of Docker's JSON objects: its field names, and the shapes of the fields that
    are objects (or lists of objects) in turn, or maps whose values are."""

    names: tuple[str, ...]
    objects: dict[str, "Shape"] = field(default_factory=dict)
    map_values: dict[str, "Shape"] = field(default_factory=dict)

    @cached_property
    def canonical(self) -> dict[str, str]:
        return {_fold(n): n for n in self.names}


def _fold(key: str) -> str:
    """Go's EqualFold on ASCII field names: case, plus the two non-ASCII letters that
    fold to ASCII ones (KELVIN SIGN lowers to k by itself; LONG S does not)."""
    return key.lower().replace("\u017f", "s")


def fold_keys(value: Any, shape: Shape) -> Any:
    """`value` with the keys of `shape`'s objects spelled as Docker spells them. An exact
    name wins over a folded one; of two keys naming the same field the later wins, as
    in Go, where the later value overwrites the earlier."""
    if isinstance(value, list):
        return [fold_keys(v, shape) for v in value]
    if not isinstance(value, dict):
        return value
    canonical = shape.canonical
    out: dict[str, Any] = {}
    for key, v in value.items():
        name = key if key in shape.names else canonical.get(_fold(key), key)
        if name in shape.objects:
            v = fold_keys(v, shape.objects[name])
        elif name in shape.map_values and isinstance(v, dict):
            v = {k: fold_keys(item, shape.map_values[name]) for k, item in v.items()}
        out.pop(name, None)  # the later key wins, and takes the later place
        out[name] = v
    return out


_THROTTLE = Shape(("Path", "Rate"))
_MOUNT = Shape(
    ("Target", "Source", "Type", "ReadOnly", "Consistency", "BindOptions", "VolumeOptions",
     "TmpfsOptions", "ClusterOptions"),
    objects={
        "BindOptions": Shape(("Propagation", "NonRecursive", "CreateMountpoint",
                              "ReadOnlyNonRecursive", "ReadOnlyForceRecursive")),
        "VolumeOptions": Shape(("NoCopy", "Labels", "Subpath", "DriverConfig"),
                               objects={"DriverConfig": Shape(("Name", "Options"))}),
        "TmpfsOptions": Shape(("SizeBytes", "Mode", "Options")),
    })

HOST_CONFIG = Shape(
    ("CpuShares", "Memory", "CgroupParent", "BlkioWeight", "BlkioWeightDevice",
     "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps",
     "CpuPeriod", "CpuQuota", "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems",
     "Devices", "DeviceCgroupRules", "DeviceRequests", "KernelMemory", "KernelMemoryTCP",
     "MemoryReservation", "MemorySwap", "MemorySwappiness", "NanoCpus", "OomKillDisable", "Init",
     "PidsLimit", "Ulimits", "CpuCount", "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth",
     "Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy",
     "AutoRemove", "VolumeDriver", "VolumesFrom", "Mounts", "ConsoleSize", "Annotations", "CapAdd",
     "CapDrop", "CgroupnsMode", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd",
     "IpcMode", "Cgroup", "Links", "OomScoreAdj", "PidMode", "Privileged", "PublishAllPorts",
     "ReadonlyRootfs", "SecurityOpt", "StorageOpt", "Tmpfs", "UTSMode", "UsernsMode", "ShmSize",
     "Sysctls", "Runtime", "Isolation", "MaskedPaths", "ReadonlyPaths"),
    objects={
        "BlkioWeightDevice": Shape(("Path", "Weight")),
        "BlkioDeviceReadBps": _THROTTLE, "BlkioDeviceWriteBps": _THROTTLE,
        "BlkioDeviceReadIOps": _THROTTLE, "BlkioDeviceWriteIOps": _THROTTLE,
        "Devices": Shape(("PathOnHost", "PathInContainer", "CgroupPermissions")),
        "DeviceRequests": Shape(("Driver", "Count", "DeviceIDs", "Capabilities", "Options")),
        "Ulimits": Shape(("Name", "Soft", "Hard")),
        "LogConfig": Shape(("Type", "Config")),
        "RestartPolicy": Shape(("Name", "MaximumRetryCount")),
        "Mounts": _MOUNT,
    },
    map_values={"PortBindings": Shape(("HostIp", "HostPort"))})

_ENDPOINT = Shape(
    ("IPAMConfig", "Links", "MacAddress", "Aliases", "NetworkID", "EndpointID", "Gateway",
     "IPAddress", "IPPrefixLen", "IPv6Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen",
     "DriverOpts", "DNSNames"),
    objects={"IPAMConfig": Shape(("IPv4Address", "IPv6Address", "LinkLocalIPs"))})

CONTAINER_CREATE = Shape(
    ("Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr",
     "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck", "ArgsEscaped",
     "Image", "Volumes", "WorkingDir", "Entrypoint", "NetworkDisabled", "MacAddress", "OnBuild",
     "Labels", "StopSignal", "StopTimeout", "Shell", "HostConfig", "NetworkingConfig",
     # moby's ContainerConfigWrapper embeds HostConfig too: its fields may come at the top level
     *HOST_CONFIG.names, "Cpuset"),
    objects={
        "Healthcheck": Shape(("Test", "Interval", "Timeout", "Retries", "StartPeriod", "StartInterval")),
        "HostConfig": HOST_CONFIG,
        "NetworkingConfig": Shape(("EndpointsConfig",), map_values={"EndpointsConfig": _ENDPOINT}),
        **HOST_CONFIG.objects,
    },
    map_values=HOST_CONFIG.map_values)
