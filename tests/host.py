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


def procs_files(pid: int) -> list[str]:
    """cgroup.procs of the process's cgroup in every hierarchy it is in (v1 and unified)."""
    from berth.runc.cgroups._proc import UNIFIED, cgroup_mounts

    mounts, files = cgroup_mounts(), []
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _hid, controllers, path = line.rstrip("\n").split(":", 2)
            mount = mounts[controllers.split(",")[0] if controllers else UNIFIED]
            files.append(os.path.join(mount.mountpoint, os.path.relpath(path, mount.root), "cgroup.procs"))
    return files


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


# --------------------------------------------------------------------------- networks
# Each test engine gets its own bridge, veth prefix, nftables table and address pool
# (every one a berthd flag), so that engines running side by side never collide.

def private_network(suffix: str) -> tuple[list[str], dict[str, str]]:
    """berthd's flags for a private network setup, and the names it implies."""
    import random

    rnd = random.Random(suffix)
    pool = f"10.{rnd.randrange(64, 128)}.{rnd.randrange(32) * 8}.0/21"
    names = {"bridge": f"bt{suffix[:8]}", "veth": f"v{suffix[:5]}", "table": f"berth_{suffix[:8]}",
             "pool": pool}
    return (["--bridge", names["bridge"], "--default-address-pool", f"base={pool},size=24",
             "--veth-prefix", names["veth"], "--nft-table", names["table"]], names)


def links() -> set[str]:
    import subprocess

    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if line.strip()}


def remove_network_leftovers(names: dict[str, str], exec_root: str) -> None:
    """What a failed test's engine left: the bridge, veths, the nftables table, netns mounts."""
    import subprocess

    for name in links():
        if name == names["bridge"] or name.startswith(names["veth"]):
            subprocess.run(["ip", "link", "del", name], capture_output=True)
    subprocess.run(["nft", "delete", "table", "ip", names["table"]], capture_output=True)
    for m in reversed(mounts_under(os.path.join(exec_root, "netns"))):
        subprocess.run(["umount", "-l", m], capture_output=True)
