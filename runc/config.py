"""Reading a bundle's config.json and checking it the way runc does before it forks."""

from __future__ import annotations

import json
import os

from berth.runc import libc
from berth.runc.errors import RuncError

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

# OCI namespace type -> (clone flag, name under /proc/<pid>/ns)
NAMESPACES: dict[str, tuple[int, str]] = {
    "user": (libc.CLONE_NEWUSER, "user"),
    "ipc": (libc.CLONE_NEWIPC, "ipc"),
    "uts": (libc.CLONE_NEWUTS, "uts"),
    "network": (libc.CLONE_NEWNET, "net"),
    "pid": (libc.CLONE_NEWPID, "pid"),
    "mount": (libc.CLONE_NEWNS, "mnt"),
    "cgroup": (libc.CLONE_NEWCGROUP, "cgroup"),
    "time": (libc.CLONE_NEWTIME, "time"),
}


def load_bundle(bundle: str) -> tuple[str, dict[str, Any], str]:
    """(absolute bundle, spec, absolute rootfs) or RuncError with runc's wording."""
    if not os.path.isdir(bundle):
        raise RuncError(f"chdir {bundle}: no such file or directory")
    bundle = os.path.abspath(bundle)
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            spec = json.load(f)
    except FileNotFoundError:
        raise RuncError("open config.json: no such file or directory") from None
    except ValueError as e:
        raise RuncError(f"invalid character in config.json: {e}") from None
    if not isinstance(spec, dict):
        raise RuncError("config.json: not a JSON object")
    validate(spec)
    root = spec.get("root") or {}
    rootfs = root.get("path") or ""
    if not rootfs:
        raise RuncError("root must be specified")
    if not os.path.isabs(rootfs):
        rootfs = os.path.join(bundle, rootfs)
    try:
        os.stat(rootfs)
    except FileNotFoundError:
        raise RuncError(f"invalid rootfs: stat {rootfs}: no such file or directory") from None
    rootfs = os.path.realpath(rootfs)
    if not os.path.isdir(rootfs):
        raise RuncError(f"invalid rootfs: not a directory: {rootfs}")
    return bundle, spec, rootfs


def validate(spec: dict[str, Any]) -> None:
    """The checks runc makes before creating anything."""
    process = spec.get("process")
    if not isinstance(process, dict):
        raise RuncError("process property must not be empty")
    if not process.get("args"):
        raise RuncError("args must not be empty")
    linux = spec.get("linux") or {}
    seen: set[str] = set()
    for ns in linux.get("namespaces") or []:
        t = ns.get("type", "")
        if t not in NAMESPACES:
            raise RuncError(f'namespace {{"{t}" "{ns.get("path", "")}"}} does not exist')
        if t in seen:
            raise RuncError(f"malformed spec file: duplicated namespace {t!r}")
        seen.add(t)
    if "mount" not in seen:
        raise RuncError("unable to set up the rootfs without a mount namespace")
    if "user" in seen and not (linux.get("uidMappings") and linux.get("gidMappings")):
        raise RuncError("user namespaces enabled, but no user mapping found")
    if "user" not in seen and (linux.get("uidMappings") or linux.get("gidMappings")):
        raise RuncError("user mappings found, but user namespaces not enabled")
    if spec.get("hostname") and "uts" not in seen:
        raise RuncError("unable to set hostname without a private UTS namespace")
    if spec.get("domainname") and "uts" not in seen:
        raise RuncError("unable to set domainname without a private UTS namespace")
    from berth.runc.process import RLIMITS

    for rl in process.get("rlimits") or []:
        if rl.get("type") not in RLIMITS:
            raise RuncError(f"wrong rlimit value: {rl.get('type')}")
    for i, rule in enumerate((linux.get("resources") or {}).get("devices") or []):
        if not rule.get("access"):  # runc's specconv, before anything exists
            raise RuncError(f"device access at {i} field cannot be empty")
        if (rule.get("type") or "a") not in ("a", "b", "c"):
            raise RuncError(f'invalid cgroup device type "{rule["type"]}"')
    if process.get("terminal") is None:
        process["terminal"] = False


def namespaces(spec: dict[str, Any]) -> dict[str, str]:
    """type -> path ('' for a new namespace)."""
    return {ns["type"]: ns.get("path", "") for ns in (spec.get("linux") or {}).get("namespaces") or []}
