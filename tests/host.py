"""What the host shows of processes, cgroups and mounts: how tests check that nothing leaked."""

from __future__ import annotations

import os


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    """Running: not gone, not a zombie (PID 1 on these machines does not reap orphans)."""
    try:
        return _stat_fields(pid)[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def parent_of(pid: int) -> int:
    return int(_stat_fields(pid)[1])


def children_of(pid: int) -> set[int]:
    children = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat_fields(int(entry))[1]) == pid:
                    children.add(int(entry))
            except (OSError, IndexError):
                continue
    return children


def cgroup_dirs(cgroups_path: str) -> list[str]:
    """Every directory the kernel has for this cgroupsPath, on every mounted hierarchy."""
    rel = cgroups_path.lstrip("/")
    base = "/sys/fs/cgroup"
    return [os.path.join(base, h, rel) for h in os.listdir(base) if os.path.isdir(os.path.join(base, h, rel))]


def mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path)]


def free_char_major() -> int | None:
    """A char major no driver has on this host (devices.txt's local/experimental ranges), or None.

    Opening a node of it fails with ENXIO when the device cgroup allows it and EPERM
    when it does not, which tells the two apart without touching a real device.
    """
    used: set[int] = set()
    with open("/proc/devices") as f:
        for line in f:
            if line.startswith("Block"):
                break
            parts = line.split()
            if parts and parts[0].isdigit():
                used.add(int(parts[0]))
    for major in [60, 61, 62, 63, *range(120, 128), *range(240, 255)]:
        if major not in used:
            return major
    return None
