"""Capabilities: Docker's default set, the names the kernel knows, the set the engine itself
holds, and moby's TweakCapabilities rules for CapAdd/CapDrop/Privileged."""

from __future__ import annotations

from functools import lru_cache

from berth.common.capabilities import BY_NUMBER as _BY_NUMBER

ALL = "ALL"

# moby oci/caps DefaultCapabilities (the 14 every container gets)
DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]


@lru_cache(maxsize=1)
def known() -> tuple[str, ...]:
    """Every capability this kernel has (cap_last_cap), as moby's GetAllCapabilities lists them."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = len(_BY_NUMBER) - 1
    return tuple(_BY_NUMBER[: last + 1])


@lru_cache(maxsize=1)
def engine_caps() -> tuple[str, ...]:
    """The capabilities berthd itself may hand on: its own bounding set (CapBnd). A container
    can never hold more than the runtime that makes it, so --privileged means exactly these
    (on a host whose bounding set lacks e.g. CAP_SYS_MODULE, so does every container)."""
    mask = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                mask = int(line.split()[1], 16)
    return tuple(name for bit, name in enumerate(known()) if mask >> bit & 1)


def normalize(names: list[str] | None, field: str) -> list[str]:
    """moby NormalizeLegacyCapabilities: upper case, CAP_ prefix, known to the kernel (or ALL)."""
    out = []
    for name in names or []:
        name = name.strip().upper()
        if name != ALL and not name.startswith("CAP_"):
            name = "CAP_" + name
        if name != ALL and name not in known():
            raise ValueError(f'invalid {field}: unknown capability: "{name}"')
        out.append(name)
    return out


def effective(host: dict) -> list[str]:
    """The container's capability set (moby TweakCapabilities), limited to what the engine has."""
    have = engine_caps()
    if host.get("Privileged"):
        return list(have)
    adds = normalize(host.get("CapAdd"), "CapAdd")
    drops = normalize(host.get("CapDrop"), "CapDrop")
    if ALL in adds:
        caps = [c for c in known() if c not in drops]
    elif ALL in drops:
        caps = [c for c in adds if c != ALL]
    else:
        caps = [c for c in DEFAULT_CAPS if c not in drops] + adds
    seen: list[str] = []
    for c in caps:
        if c in have and c not in seen:
            seen.append(c)
    return seen
