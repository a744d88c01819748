"""The OCI runtime spec berthd sends with Containers.Create, with Docker's defaults
(moby oci/defaults.go and daemon/oci_linux.go): capabilities, masked and read-only
paths, mounts, device rules, namespaces, plus what the container's config asks for."""

from __future__ import annotations

import os
from typing import Any

from ..security import confine
from ..security.settings import DaemonSecurity
from ..volumes import oci as volume_mounts
from ..volumes.points import MountPoint
from . import resources

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _default_mounts() -> list[dict[str, Any]]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
    ]


def _device_rules() -> list[dict[str, Any]]:
    def allow(kind: str, major: int | None, minor: int | None, access: str = "rwm") -> dict[str, Any]:
        rule: dict[str, Any] = {"allow": True, "type": kind, "access": access}
        if major is not None:
            rule["major"] = major
        if minor is not None:
            rule["minor"] = minor
        return rule

    return [
        {"allow": False, "access": "rwm"},
        allow("c", None, None, "m"), allow("b", None, None, "m"),
        allow("c", 1, 3), allow("c", 1, 8), allow("c", 1, 7), allow("c", 5, 0),
        allow("c", 1, 5), allow("c", 1, 9), allow("c", 136, None), allow("c", 5, 2),
        allow("c", 10, 200),
    ]


def merge_env(base: list[str], overrides: list[str]) -> list[str]:
    """docker's ReplaceOrAppendEnvValues: same key replaces in place, new keys append."""
    out = list(base)
    index = {e.split("=", 1)[0]: i for i, e in enumerate(out)}
    for e in overrides:
        key = e.split("=", 1)[0]
        if key in index:
            out[index[key]] = e
        else:
            index[key] = len(out)
            out.append(e)
    return out


def process_env(config: dict[str, Any]) -> list[str]:
    base = ["PATH=" + DEFAULT_PATH, "HOSTNAME=" + config["Hostname"]]
    if config.get("Tty"):
        base.append("TERM=xterm")
    return merge_env(base, config.get("Env") or [])


def _resources(host: dict[str, Any]) -> dict[str, Any]:
    return {"devices": _device_rules(), **resources.linux_resources(host)}


def console_size(config: dict[str, Any], host: dict[str, Any]) -> dict[str, Any]:
    """HostConfig.ConsoleSize [rows, cols] as the OCI process.consoleSize: the pty is born
    with the client's size, so a command that asks at once does not see 0x0 (the CLI's
    first resize comes only after start)."""
    size = host.get("ConsoleSize")
    if not config.get("Tty") or not isinstance(size, list) or len(size) != 2:
        return {}
    rows, cols = size
    if not all(isinstance(v, int) and 0 < v < 65536 for v in (rows, cols)):
        return {}
    return {"consoleSize": {"height": rows, "width": cols}}


def build(*, cid: str, path: str, args: list[str], config: dict[str, Any], host: dict[str, Any],
          container_dir: str, cgroup_parent: str, security: DaemonSecurity | None = None,
          mount_points: list[MountPoint] | None = None, stage_root: str = "") -> dict[str, Any]:
    """The spec; ValueError (a 400) for what dockerd refuses. Confinement: security/confine.py."""
    confine.prepare(host)
    mounts = _default_mounts()
    for name in ("resolv.conf", "hostname", "hosts"):
        mounts.append({"destination": f"/etc/{name}", "type": "bind",
                       "source": os.path.join(container_dir, name), "options": ["rbind", "rprivate"]})
    oci = {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": bool(config.get("Tty")),
            **console_size(config, host),
            # berth-containerd resolves config["User"] against the image's passwd file
            "user": {"uid": 0, "gid": 0},
            "args": [path, *args],
            "env": process_env(config),
            "cwd": config.get("WorkingDir") or "/",
            **resources.process_settings(host),  # oomScoreAdj, rlimits
        },
        "root": {"path": "rootfs", "readonly": bool(host.get("ReadonlyRootfs"))},
        "hostname": config["Hostname"],
        "mounts": mounts,
        "linux": {
            "cgroupsPath": f"/{(host.get('CgroupParent') or cgroup_parent).strip('/')}/{cid}",
            "resources": _resources(host),
            "namespaces": [{"type": t} for t in ("mount", "network", "uts", "pid", "ipc")],
        },
    }
    volume_mounts.apply(oci, mount_points or [], cid, stage_root)  # -v, --mount, --tmpfs: daemon/volumes/
    confine.apply(oci, host, security or DaemonSecurity())  # caps, seccomp, paths, devices
    return oci


def etc_files(container_dir: str, hostname: str) -> None:
    """The files bind-mounted at /etc/hostname, /etc/hosts and /etc/resolv.conf."""
    with open(os.path.join(container_dir, "hostname"), "w") as f:
        f.write(hostname + "\n")
    with open(os.path.join(container_dir, "hosts"), "w") as f:
        f.write("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n"
                "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
    with open(os.path.join(container_dir, "resolv.conf"), "w") as f:
        f.write(_resolv_conf())


def _resolv_conf() -> str:
    """The host's resolv.conf without loopback nameservers (unreachable from the
    container's own network namespace); docker's public fallback if none is left."""
    try:
        with open("/etc/resolv.conf") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    kept, servers = [], 0
    for line in lines:
        words = line.split()
        if words[:1] == ["nameserver"] and len(words) > 1:
            if words[1].startswith("127.") or words[1] == "::1":
                continue
            servers += 1
        kept.append(line)
    if servers == 0:
        kept += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    return "\n".join(kept) + "\n"
