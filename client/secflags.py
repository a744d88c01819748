"""run/create's confinement flags as the docker CLI turns them into HostConfig fields:
--cap-add/--cap-drop (EffectiveCapAddCapDrop), --privileged, --security-opt (a seccomp
profile's file is read here and sent as its content), --read-only, --device,
--device-cgroup-rule, --sysctl (namespaced ones only), --userns. Imported only when one
of them is given, so a plain `run` does not pay for it."""

from __future__ import annotations

from berth.client.flags import UsageError

NAMES = ("cap_add", "cap_drop", "privileged", "security_opt", "read_only", "device", "device_cgroup_rule",
         "sysctl", "userns")

_IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")


def _bad(value: str, flag: str, why: str) -> UsageError:
    return UsageError(f'invalid argument "{value}" for "--{flag}" flag: {why}', 125)


def _caps(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        name = name.strip().upper()
        if name != "ALL" and not name.startswith("CAP_"):
            name = "CAP_" + name
        if name not in out:
            out.append(name)
    return sorted(out)


def effective_caps(add: list[str], drop: list[str]) -> tuple[list[str], list[str]]:
    """The CLI's EffectiveCapAddCapDrop: ALL trumps the rest; adding wins over dropping."""
    adds, drops = _caps(add), _caps(drop)
    if "ALL" in adds:
        adds = ["ALL"]
    if "ALL" in drops:
        drops = ["ALL"]
    drops = [c for c in drops if c not in adds]
    return adds, drops


def _security_opts(values: list[str]) -> list[str]:
    out = []
    for opt in values:
        key, eq, value = opt.partition("=")
        if eq and key == "seccomp" and value not in ("unconfined", "builtin"):
            try:
                with open(value) as f:
                    opt = "seccomp=" + f.read()
            except OSError as e:
                raise UsageError(f"opening seccomp profile ({value}) failed: {e.strerror.lower()}", 125) from None
        out.append(opt)
    return out


def _device(spec: str) -> dict:
    parts = spec.split(":")
    src = parts[0]
    dst, perms = src, "rwm"
    if len(parts) == 2:
        if parts[1] and all(c in "rwm" for c in parts[1]):
            perms = parts[1]
        else:
            dst = parts[1]
    elif len(parts) == 3:
        dst, perms = parts[1], parts[2]
    elif len(parts) > 3:
        raise _bad(spec, "device", f"bad format for path: {spec}")
    if not src.startswith("/") or not dst.startswith("/"):
        raise _bad(spec, "device", f"bad format for path: {spec}")
    if not perms or any(c not in "rwm" for c in perms):
        raise _bad(spec, "device", f"bad mode specified: {perms}")
    return {"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": perms}


def _sysctls(values: list[str]) -> dict[str, str]:
    out = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not eq or not (key in _IPC_SYSCTLS or key.startswith(("net.", "fs.mqueue."))):
            raise _bad(item, "sysctl", f"sysctl '{item}' is not allowed")
        out[key] = value
    return out


def _cgroup_rule(rule: str) -> str:
    parts = rule.split(" ")
    if len(parts) != 3 or parts[0] not in ("a", "b", "c") or ":" not in parts[1] \
            or not parts[2] or any(c not in "rwm" for c in parts[2]):
        raise _bad(rule, "device-cgroup-rule", f"invalid device cgroup format '{rule}'")
    return rule


def apply(o: dict, host: dict) -> None:
    if o.get("cap_add") or o.get("cap_drop"):
        host["CapAdd"], host["CapDrop"] = effective_caps(o.get("cap_add") or [], o.get("cap_drop") or [])
    if o.get("privileged"):
        host["Privileged"] = True
    if o.get("read_only"):
        host["ReadonlyRootfs"] = True
    if o.get("security_opt"):
        host["SecurityOpt"] = _security_opts(o["security_opt"])
    if o.get("device"):
        host["Devices"] = [_device(d) for d in o["device"]]
    if o.get("device_cgroup_rule"):
        host["DeviceCgroupRules"] = [_cgroup_rule(r) for r in o["device_cgroup_rule"]]
    if o.get("sysctl"):
        host["Sysctls"] = _sysctls(o["sysctl"])
    if o.get("userns") is not None:
        if o["userns"] not in ("", "host"):
            raise UsageError("--userns: invalid USER mode", 125)
        host["UsernsMode"] = o["userns"]
