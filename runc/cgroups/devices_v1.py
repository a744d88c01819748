"""Device rules on cgroup v1: move devices.list to the target with the fewest, least disruptive writes.

The v1 device controller is a list of exceptions to a default: in "deny" mode
(whitelist) devices.list shows the allowed (type, major, minor, access) entries; in
"allow" mode (blacklist) it shows only "a *:* rwm", whatever deny entries it holds.
Writing the OCI rules one by one, deny-all first, would leave every process already
in the cgroup without /dev/null for the time of the writes. So, as runc's devices
emulator does, we model both the current state (read from devices.list) and the
target (the rules applied in order to an empty whitelist), and write only the
difference: a device allowed before and after is never denied on the way.

Only a change of default (or a blacklist source, whose deny entries cannot be
read back) needs the disruptive "a" rule first; that happens when a fresh cgroup
(inheriting its parent's allow-all) is configured, which is done before any
process joins it (see launch.py).
"""

from __future__ import annotations

from berth.runc.cgroups._fs import CgroupError, read, write

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

WILDCARD = -1
_ACCESS = "rwm"  # the kernel's order in devices.list


class DeviceState:
    """A default policy and its exceptions: (major, minor, type) -> access ("rwm" order).

    Keys sort by major, minor, type, the order runc writes its rules in; -1 is "*".
    """

    __slots__ = ("default_allow", "rules")

    def __init__(self, default_allow: bool = False, rules: dict[tuple[int, int, str], str] | None = None) -> None:
        self.default_allow = default_allow
        self.rules: dict[tuple[int, int, str], str] = {} if rules is None else rules

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DeviceState):
            return NotImplemented
        return (self.default_allow, self.rules) == (other.default_allow, other.rules)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"DeviceState(default_allow={self.default_allow!r}, rules={self.rules!r})"

    def apply(self, allow: bool, key: tuple[int, int, str] | None, access: str) -> None:
        """One devices.allow (allow=True) or devices.deny write, as the kernel takes it; key None is "a"."""
        if key is None:
            self.default_allow, self.rules = allow, {}
        elif allow == self.default_allow:
            self._remove(key, access)  # allowing in allow mode (denying in deny mode) drops an exception
        else:
            self.rules[key] = _union(self.rules.get(key, ""), access)

    def _remove(self, key: tuple[int, int, str], access: str) -> None:
        major, minor, kind = key
        # The kernel removes only the exception with exactly this key and ignores a
        # wildcard entry covering it: refuse rather than pretend (runc does the same).
        for partial in ((WILDCARD, minor, kind), (major, WILDCARD, kind), (WILDCARD, WILDCARD, kind)):
            if partial != key and _intersect(self.rules.get(partial, ""), access):
                raise CgroupError(f"requested rule [{rule_text(key, access)}] not supported by devices cgroupv1 "
                                  f"(cannot punch hole in existing wildcard rule "
                                  f"[{rule_text(partial, self.rules[partial])}])")
        left = _minus(self.rules.get(key, ""), access)
        if left:
            self.rules[key] = left
        else:
            self.rules.pop(key, None)


def rule_text(key: tuple[int, int, str] | None, access: str) -> str:
    """A rule as devices.allow, devices.deny and devices.list spell it: "c 1:3 rwm", "a *:* rwm"."""
    if key is None:
        return "a *:* rwm"
    major, minor, kind = key
    return f"{kind} {_num(major)}:{_num(minor)} {access}"


def from_list(text: str) -> DeviceState:
    """The state devices.list shows: a whitelist of its lines, or allow-all if it says "a"."""
    state = DeviceState(default_allow=False)
    for raw in text.splitlines():
        fields = raw.replace(":", " ").split()
        if not fields:
            continue
        if len(fields) != 4:
            raise CgroupError(f"malformed devices.list rule {raw}")
        kind, major, minor, access = fields
        if kind == "a":
            state.apply(True, None, _ACCESS)  # allow mode: the deny entries cannot be read back
            continue
        if kind not in ("b", "c"):
            raise CgroupError(f'unknown device type "{kind}"')
        state.apply(True, (_parse_num(major), _parse_num(minor), kind), _norm(access))
    return state


def from_rules(rules: list[dict[str, Any]]) -> DeviceState:
    """The state OCI rules leave when applied in order to an empty, deny-by-default cgroup."""
    state = DeviceState(default_allow=False)
    for rule in rules:
        kind = rule.get("type") or "a"
        if kind not in ("a", "b", "c"):
            raise ValueError(f"invalid device type {kind!r}")
        access = rule.get("access") or _ACCESS
        if set(access) - set(_ACCESS):
            raise ValueError(f"invalid device access {access!r}")
        key = None if kind == "a" else (_oci_num(rule.get("major")), _oci_num(rule.get("minor")), kind)
        state.apply(bool(rule.get("allow")), key, _norm(access))
    return state


def transition(current: DeviceState, target: DeviceState) -> list[tuple[bool, tuple[int, int, str] | None, str]]:
    """The writes (allow?, key, access) that take `current` to `target`, least disruptive first.

    Same default and a readable source: only the entries that differ, removals
    first, so an entry present in both is never touched. Otherwise the "a" rule
    comes first (it resets every exception), then all of the target's entries.
    """
    writes: list[tuple[bool, tuple[int, int, str] | None, str]] = []
    old = current.rules
    if current.default_allow or current.default_allow != target.default_allow:
        writes.append((target.default_allow, None, _ACCESS))
        old = {}
    for key in sorted(old):
        dropped = _minus(old[key], target.rules.get(key, ""))
        if dropped:
            writes.append((target.default_allow, key, dropped))
    for key in sorted(target.rules):
        gained = _minus(target.rules[key], old.get(key, ""))
        if gained:
            writes.append((not target.default_allow, key, gained))
    return writes


def set_v1(path: str, rules: list[dict[str, Any]]) -> None:
    """Make the devices cgroup at `path` enforce `rules`, writing only what changes."""
    target = from_rules(rules)
    for allow, key, access in transition(from_list(read(path, "devices.list")), target):
        write(path, "devices.allow" if allow else "devices.deny", rule_text(key, access))
    # The kernel may take a write and still not hold what we meant (a parent's limit):
    # check, as runc does. A blacklist cannot be read back beyond its mode.
    after = from_list(read(path, "devices.list"))
    if not target.default_allow and after != target:
        raise CgroupError("resulting devices cgroup doesn't precisely match target")
    if target.default_allow != after.default_allow:
        raise CgroupError("resulting devices cgroup doesn't match target mode")


def _norm(access: str) -> str:
    return "".join(c for c in _ACCESS if c in access)


def _union(a: str, b: str) -> str:
    return _norm(a + b)


def _minus(a: str, b: str) -> str:
    return "".join(c for c in a if c not in b)


def _intersect(a: str, b: str) -> bool:
    return any(c in b for c in a)


def _num(value: int) -> str:
    return "*" if value == WILDCARD else str(value)


def _parse_num(text: str) -> int:
    if text == "*":
        return WILDCARD
    if not text.isdigit():
        raise CgroupError(f"invalid device number {text!r} in devices.list")
    return int(text)


def _oci_num(value: Any) -> int:
    return WILDCARD if value is None or value == -1 else int(value)
