"""HostConfig's security knobs checked and parsed as dockerd does: SecurityOpt, Sysctls,
Devices, DeviceCgroupRules, UsernsMode. Every refusal is a ValueError whose text is
dockerd's (or runc's, where dockerd leaves the check to the runtime)."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from typing import Any

from . import seccomp


@dataclass
class SecurityOpts:
    """What --security-opt asked for: seccomp ("" = the daemon's default), NNP, AppArmor."""
    seccomp: str = ""  # "", "unconfined", "builtin", or a profile's JSON text
    no_new_privileges: bool | None = None  # None: the daemon's default
    apparmor: str = ""


def apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def parse_security_opts(opts: list[str] | None) -> SecurityOpts:
    """moby parseSecurityOpt, with its messages ("invalid --security-opt 1/2: ...")."""
    out = SecurityOpts()
    for opt in opts or []:
        if opt == "no-new-privileges":
            out.no_new_privileges = True
            continue
        if opt == "disable":  # SELinux label=disable: berth applies no labels anyway
            continue
        sep = "=" if "=" in opt else ":" if ":" in opt else ""
        if not sep:
            raise ValueError(f'invalid --security-opt 1: "{opt}"')
        key, value = opt.split(sep, 1)
        if key == "label":
            continue  # no SELinux here: labels are accepted and have no effect, as in dockerd
        if key == "apparmor":
            if value != "unconfined" and not apparmor_enabled():
                raise ValueError(f'invalid --security-opt: "{opt}": AppArmor is not enabled on this host, '
                                 "so the profile cannot be applied")
            out.apparmor = value
        elif key == "seccomp":
            if value not in (seccomp.UNCONFINED, seccomp.BUILTIN):
                seccomp.parse(value)  # refused now, not at start
            out.seccomp = value
        elif key == "no-new-privileges":
            out.no_new_privileges = _parse_bool(value, opt)
        else:
            raise ValueError(f'invalid --security-opt 2: "{opt}"')
    return out


def _parse_bool(value: str, opt: str) -> bool:
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(f'invalid --security-opt 2: "{opt}"')


_IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}


def check_sysctls(sysctls: dict[str, str] | None, network_mode: str, ipc_mode: str) -> None:
    """Only sysctls of a namespace the container has of its own (runc's validation)."""
    for key in sysctls or {}:
        if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if ipc_mode == "host":
                raise ValueError(f'sysctl "{key}" is not allowed in the hosts ipc namespace')
            continue
        if key.startswith("net."):
            if network_mode == "host":
                raise ValueError(f'sysctl "{key}" not allowed in host network namespace')
            continue
        raise ValueError(f'sysctl "{key}" is not in a separate kernel namespace')


def check_userns_mode(mode: str | None) -> None:
    if mode not in (None, "", "host"):
        raise ValueError(f"invalid UsernsMode: {mode}")


_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")


def cgroup_rules(rules: list[str] | None) -> list[dict[str, Any]]:
    """--device-cgroup-rule "c 1:3 mr" as OCI linux.resources.devices entries."""
    out = []
    for text in rules or []:
        m = _RULE.match(text)
        if not m:
            raise ValueError(f"invalid device cgroup rule format: '{text}'")
        kind, major, minor, access = m.groups()
        rule: dict[str, Any] = {"allow": True, "type": kind, "access": access}
        if major != "*":
            rule["major"] = int(major)
        if minor != "*":
            rule["minor"] = int(minor)
        out.append(rule)
    return out


def _device(host_path: str, container_path: str, follow: bool = True) -> dict[str, Any] | None:
    st = os.stat(host_path) if follow else os.lstat(host_path)
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        return None
    return {"path": container_path, "type": kind, "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
            "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}


def devices(mappings: list[dict[str, Any]] | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """HostConfig.Devices as (linux.devices, cgroup rules); a directory brings its devices."""
    nodes: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    for m in mappings or []:
        src = m.get("PathOnHost") or ""
        dst = m.get("PathInContainer") or src
        perms = m.get("CgroupPermissions") or "rwm"
        if not re.fullmatch(r"[rwm]{1,3}", perms):
            raise ValueError(f"invalid device mode: {perms}")
        try:
            if os.path.isdir(src):
                found = []
                for dirpath, _, files in os.walk(src):
                    for name in sorted(files):
                        path = os.path.join(dirpath, name)
                        dev = _device(path, os.path.join(dst, os.path.relpath(path, src)))
                        if dev:
                            found.append(dev)
            else:
                dev = _device(src, dst)
                if dev is None:
                    raise ValueError(f'error gathering device information while adding custom device "{src}": '
                                     "not a device node")
                found = [dev]
        except OSError as e:
            raise ValueError(f'error gathering device information while adding custom device "{src}": '
                             f"{(e.strerror or str(e)).lower()}") from None
        for dev in found:
            nodes.append(dev)
            rules.append({"allow": True, "type": dev["type"], "major": dev["major"], "minor": dev["minor"],
                          "access": perms})
    return nodes, rules


_SKIP_DIRS = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}


def host_devices() -> list[dict[str, Any]]:
    """Every device node under the host's /dev (--privileged), as containerd's HostDevices."""
    out = []
    for dirpath, dirnames, files in os.walk("/dev"):
        dirnames[:] = [d for d in dirnames if not (dirpath == "/dev" and d in _SKIP_DIRS)]
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            if path == "/dev/console":
                continue
            try:
                dev = _device(path, path, follow=False)  # /dev/stdin & co are links
            except OSError:
                continue
            if dev:
                out.append(dev)
    return out
