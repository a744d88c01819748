"""Docker's confinement applied to a container's OCI spec: capabilities, seccomp, no new
privileges, masked and read-only paths, devices and their cgroup rules, sysctls, default
ulimits; and --privileged, which lifts all of it (every capability the engine holds,
every host device, no seccomp, no masked paths, /sys writable), as dockerd's
WithCapabilities/WithSeccomp/WithDevices/WithMounts do.

spec.build calls `apply` once, after it has laid out the unconfined parts.
"""

from __future__ import annotations

from typing import Any

from . import caps as _caps, options, seccomp
from .settings import DaemonSecurity, rlimit_type

# moby oci/defaults.go: what a container must not see or write of the host's /proc and /sys
MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def prepare(host: dict[str, Any]) -> None:
    """Refuse (ValueError, dockerd's text: a 400) what create must refuse before anything is
    made; then record what dockerd records: a privileged container without label options
    gets SecurityOpt ["label=disable"] (moby generateSecurityOpt), as inspect shows."""
    _caps.normalize(host.get("CapAdd"), "CapAdd")
    _caps.normalize(host.get("CapDrop"), "CapDrop")
    options.parse_security_opts(host.get("SecurityOpt"))
    options.check_sysctls(host.get("Sysctls"), host.get("NetworkMode") or "", host.get("IpcMode") or "")
    options.check_userns_mode(host.get("UsernsMode"))
    options.cgroup_rules(host.get("DeviceCgroupRules"))
    options.devices(host.get("Devices"))
    if host.get("SecurityOpt") is None and host.get("Privileged"):
        host["SecurityOpt"] = ["label=disable"]


def apply(oci: dict[str, Any], host: dict[str, Any], daemon: DaemonSecurity) -> None:
    proc, linux = oci["process"], oci["linux"]
    privileged = bool(host.get("Privileged"))
    opts = options.parse_security_opts(host.get("SecurityOpt"))
    have = _caps.effective(host)
    proc["capabilities"] = {k: list(have) for k in ("bounding", "effective", "permitted")}
    nnp = daemon.no_new_privileges if opts.no_new_privileges is None else opts.no_new_privileges
    proc["noNewPrivileges"] = nnp
    profile = _profile(opts, daemon, privileged)
    if profile is not None:
        linux["seccomp"] = seccomp.to_oci(profile, have)
    _rlimits(proc, daemon)
    if host.get("Sysctls"):
        linux["sysctl"] = dict(host["Sysctls"])
    resources = linux.setdefault("resources", {})
    if privileged:
        linux["maskedPaths"], linux["readonlyPaths"] = [], []
        linux["devices"] = options.host_devices()
        resources["devices"] = [{"allow": True, "access": "rwm"}]
        for m in oci["mounts"]:
            if m["destination"] in ("/sys", "/sys/fs/cgroup"):
                m["options"] = [o for o in m["options"] if o != "ro"]
        return
    linux["maskedPaths"], linux["readonlyPaths"] = list(MASKED_PATHS), list(READONLY_PATHS)
    nodes, rules = options.devices(host.get("Devices"))
    if nodes:
        linux["devices"] = nodes
    resources["devices"] = (resources.get("devices") or []) + rules + options.cgroup_rules(
        host.get("DeviceCgroupRules"))


def _profile(opts: options.SecurityOpts, daemon: DaemonSecurity, privileged: bool) -> dict[str, Any] | None:
    """moby WithSeccomp's order: unconfined, privileged, the container's own, the daemon's."""
    if opts.seccomp == seccomp.UNCONFINED or privileged:
        return None
    if opts.seccomp == seccomp.BUILTIN:
        return seccomp.default_profile()
    if opts.seccomp:
        return seccomp.parse(opts.seccomp)
    return daemon.default_seccomp()


def _rlimits(proc: dict[str, Any], daemon: DaemonSecurity) -> None:
    """--default-ulimit fills in the limits the container's own (HostConfig.Ulimits) leave out."""
    if not daemon.default_ulimits:
        return
    current = proc.setdefault("rlimits", [])
    named = {r["type"] for r in current}
    for u in daemon.default_ulimits:
        if rlimit_type(u["Name"]) not in named:
            current.append({"type": rlimit_type(u["Name"]), "soft": u["Soft"], "hard": u["Hard"]})
