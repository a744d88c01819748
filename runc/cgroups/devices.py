"""Device cgroup rules: OCI linux.resources.devices and the defaults runc appends.

runc allows, after the spec's own rules, the wildcard mknod rules, the default
device nodes it creates in every container (/dev/null, zero, full, random, urandom,
tty, ptmx), /dev/net/tun, the pty slaves, and every node listed in linux.devices.
`runc run` of runc's default spec leaves exactly these in devices.list.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {"allow": True, "type": "c", "major": None, "minor": None, "access": "m"},
    {"allow": True, "type": "b", "major": None, "minor": None, "access": "m"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},   # /dev/null
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},   # /dev/random
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},   # /dev/full
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},   # /dev/tty
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},   # /dev/zero
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},   # /dev/urandom
    {"allow": True, "type": "c", "major": 136, "minor": None, "access": "rwm"},  # /dev/pts/*
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},   # /dev/ptmx
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},  # /dev/net/tun
)


def effective_rules(linux: dict[str, Any]) -> list[dict[str, Any]]:
    """The device rules runc programs for a spec's `linux` section, in order."""
    rules = list((linux.get("resources") or {}).get("devices") or [])
    rules.extend(DEFAULT_RULES)
    for dev in linux.get("devices") or []:
        kind = dev.get("type", "c")
        rules.append({"allow": True, "type": "b" if kind == "b" else "c",
                      "major": dev.get("major"), "minor": dev.get("minor"), "access": "rwm"})
    return rules
