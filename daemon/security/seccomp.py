"""Seccomp profiles in Docker's format turned into the OCI `linux.seccomp` of one container.

The default profile is our own data file (seccomp_default.json), with the syscalls and the
conditional rules of Docker's default profile. A rule applies when its `includes` hold and
its `excludes` do not, judged against the container's capabilities (bounding set), the
architecture berthd runs on (Go's names: amd64, arm64, ...) and the kernel version. The
result is the same object for every container with the same capabilities, so the runtime
compiles each distinct one once (its cache is keyed by the profile's content).
"""

from __future__ import annotations

import json
import os
import platform
from functools import lru_cache
from typing import Any

UNCONFINED = "unconfined"
BUILTIN = "builtin"

_HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROFILE_PATH = os.path.join(_HERE, "seccomp_default.json")

# uname -m -> (Go's GOARCH, the native libseccomp architecture)
_ARCHES = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"), "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "armv7l": ("arm", "SCMP_ARCH_ARM"), "i686": ("386", "SCMP_ARCH_X86"),
    "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"), "s390x": ("s390x", "SCMP_ARCH_S390X"),
    "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"), "mips64": ("mips64", "SCMP_ARCH_MIPS64"),
}


class ProfileError(ValueError):
    """A profile that cannot be used; str(e) is what the user is told."""


@lru_cache(maxsize=1)
def default_profile() -> dict[str, Any]:
    with open(DEFAULT_PROFILE_PATH) as f:
        return json.load(f)


def parse(text: str) -> dict[str, Any]:
    """A profile given as JSON text (--security-opt seccomp=<content>, --seccomp-profile)."""
    try:
        profile = json.loads(text)
    except ValueError as e:
        raise ProfileError(f"Decoding seccomp profile failed: {e}") from None
    if not isinstance(profile, dict):
        raise ProfileError("Decoding seccomp profile failed: not a JSON object")
    return profile


def _machine() -> tuple[str, str]:
    m = platform.machine()
    return _ARCHES.get(m, (m, "SCMP_ARCH_" + m.upper()))


@lru_cache(maxsize=1)
def _kernel() -> tuple[int, int]:
    parts = platform.release().split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError):
        return 0, 0


def _kernel_at_least(version: str) -> bool:
    try:
        want = tuple(int(p) for p in version.split(".")[:2])
    except ValueError:
        raise ProfileError(f"invalid kernel version: {version}") from None
    return _kernel() >= want


def _applies(rule: dict[str, Any], caps: set[str], goarch: str) -> bool:
    """moby's includes/excludes: every included cap present, no excluded one present, ..."""
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if goarch in (exc.get("arches") or []):
        return False
    if any(c in caps for c in exc.get("caps") or []):
        return False
    if exc.get("minKernel") and _kernel_at_least(exc["minKernel"]):
        return False
    if inc.get("arches") and goarch not in inc["arches"]:
        return False
    if any(c not in caps for c in inc.get("caps") or []):
        return False
    return not (inc.get("minKernel") and not _kernel_at_least(inc["minKernel"]))


def to_oci(profile: dict[str, Any], caps: list[str]) -> dict[str, Any]:
    """The OCI linux.seccomp for a container holding `caps`, on this machine."""
    goarch, native = _machine()
    if not profile.get("defaultAction"):
        raise ProfileError("seccomp: defaultAction is missing from the profile")
    if profile.get("architectures") and profile.get("archMap"):
        raise ProfileError("both 'architectures' and 'archMap' are specified in the seccomp profile, "
                           "use either 'architectures' or 'archMap'")
    out: dict[str, Any] = {"defaultAction": profile["defaultAction"]}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    arches = list(profile.get("architectures") or [])
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == native:
            arches += [entry["architecture"], *(entry.get("subArchitectures") or [])]
    out["architectures"] = arches
    for key in ("flags", "listenerPath", "listenerMetadata"):
        if profile.get(key):
            out[key] = profile[key]
    have = set(caps)
    syscalls = []
    for rule in profile.get("syscalls") or []:
        if rule.get("name") and rule.get("names"):
            raise ProfileError("'name' and 'names' were specified in the seccomp profile, "
                               "use either 'name' or 'names'")
        if not _applies(rule, have, goarch):
            continue
        call: dict[str, Any] = {"names": rule.get("names") or [rule.get("name")], "action": rule.get("action")}
        if rule.get("errnoRet") is not None:
            call["errnoRet"] = rule["errnoRet"]
        if rule.get("args"):
            call["args"] = [{"index": a.get("index", 0), "value": a.get("value", 0),
                             "valueTwo": a.get("valueTwo", 0), "op": a.get("op")} for a in rule["args"]]
        syscalls.append(call)
    out["syscalls"] = syscalls
    return out
