"""dockerd's --userns-remap: every container's root is a subordinate id of one host user.

`load` reads the flag as dockerd's parseRemappedRoot does (`default`, USER[:GROUP] or
UID[:GID]); `default` is the `dockremap` user, added (useradd --system) with a 65536-id
range in /etc/subuid and /etc/subgid when it has none (dockerd's createSubordinateRanges:
the first free range from 100000). Every range of the user becomes a mapping, the first
one at container id 0 (dockerd's idtools). berthd refuses to start, with dockerd's words,
when the user or group does not exist or has no ranges.

berthd puts the mappings in the OCI spec (a user namespace); berth-containerd reads them
there and gives the container layers shifted for them (containerd/snapshots/remap.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import os
import pwd
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

DEFAULT_USER = "dockremap"
_RANGE_START, _RANGE_LEN = 100000, 65536  # dockerd's defaultRangeStart, defaultRangeLen
SUBUID, SUBGID = "/etc/subuid", "/etc/subgid"
_LOCK = "/run/berth-userns-remap.lock"  # two berthd starting at once must not both add a range


@dataclass(frozen=True)
class IDMap:
    container_id: int
    host_id: int
    size: int


@dataclass
class Remap:
    user: str
    group: str
    uid_maps: list[IDMap] = field(default_factory=list)
    gid_maps: list[IDMap] = field(default_factory=list)

    # load() makes the first mapping the one of container id 0 (the first subordinate id)
    @property
    def root_uid(self) -> int:
        return self.uid_maps[0].host_id

    @property
    def root_gid(self) -> int:
        return self.gid_maps[0].host_id

    def oci(self, maps: list[IDMap]) -> list[dict[str, int]]:
        return [{"containerID": m.container_id, "hostID": m.host_id, "size": m.size} for m in maps]


def load(value: str) -> Remap | None:
    """The flag's value as a Remap ("" = off); ValueError: dockerd's message, berthd stops."""
    if not value:
        return None
    if value == "default":
        with _locked():
            _ensure_default_user()
        user, group = DEFAULT_USER, DEFAULT_USER
    else:
        user, group = _names(value)
    with _locked():
        uids, gids = _ranges(SUBUID, user), _ranges(SUBGID, user)
    if not uids:
        raise ValueError(f'Can\'t create ID mappings: no subuid ranges found for user "{user}"')
    if not gids:
        raise ValueError(f'Can\'t create ID mappings: no subgid ranges found for group "{user}"')
    return Remap(user, group, _maps(uids), _maps(gids))


def _names(value: str) -> tuple[str, str]:
    """USER[:GROUP] or UID[:GID] as names, dockerd's lookups and errors; GROUP defaults to USER."""
    user_s, _, group_s = value.partition(":")
    user = _lookup(user_s, pwd.getpwuid, pwd.getpwnam, "Uid", "/etc/passwd", "uid", "passwd")
    lookup = "groupname" if group_s else "gid"  # dockerd's words differ for a group it was given
    group = _lookup(group_s or user, grp.getgrgid, grp.getgrnam, "Gid", "/etc/group", lookup, "group")
    return user, group


def _lookup(value: str, by_id: Callable[[int], Any], by_name: Callable[[str], Any], id_word: str, file: str,
            lookup: str, database: str) -> str:
    """A user or group name by number or by name; dockerd's message when there is none."""
    try:
        entry = by_id(int(value)) if value.isdigit() else by_name(value)
    except KeyError:
        where = f"getent unable to find entry \"{value}\" in {database} database"
        if value.isdigit():
            raise ValueError(f"{id_word} {value} has no entry in {file}: {where}") from None
        raise ValueError(f'Error during {lookup} lookup for "{value}": {where}') from None
    return entry[0]


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    with open(_LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _ensure_default_user() -> None:
    """dockerd's AddNamespaceRangesUser("dockremap"): the system user, then its ranges."""
    try:
        pwd.getpwnam(DEFAULT_USER)
    except KeyError:
        _run(["useradd", "--system", "--user-group", "--shell", "/bin/false", DEFAULT_USER],
             f'Error adding user "{DEFAULT_USER}"')
    for path, flag, what in ((SUBUID, "-v", "subuid"), (SUBGID, "-w", "subgid")):
        if _ranges(path, DEFAULT_USER):
            continue
        start = next_range_start(_ranges(path, None))
        _run(["usermod", flag, f"{start}-{start + _RANGE_LEN - 1}", DEFAULT_USER],
             f'Couldn\'t create subordinate ID ranges: unable to add {what} range to user: "{DEFAULT_USER}"')


def _run(cmd: list[str], what: str) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise ValueError(f"{what}; output: {(r.stdout + r.stderr).strip()}, err: exit status {r.returncode}")


def _ranges(path: str, user: str | None) -> list[tuple[int, int]]:
    """(start, length) of `user`'s lines (by name or uid), in file order; None: every line."""
    ids = set()
    if user is not None:
        ids = {user, *([str(pwd.getpwnam(user).pw_uid)] if _exists(user) else [])}
    out = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) != 3 or line.lstrip().startswith("#"):
            continue
        if user is None or parts[0] in ids:
            with contextlib.suppress(ValueError):
                out.append((int(parts[1]), int(parts[2])))
    return out


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
        return True
    except KeyError:
        return False


def next_range_start(taken: list[tuple[int, int]]) -> int:
    """dockerd's findNextRangeStart: from 100000, past every range the new one would overlap."""
    start = _RANGE_START
    for s, n in sorted(taken):
        low, high = start, start + _RANGE_LEN
        if s <= low <= s + n or s <= high <= s + n:
            start = s + n
    return start


def _maps(ranges: list[tuple[int, int]]) -> list[IDMap]:
    out, cid = [], 0
    for start, length in ranges:
        out.append(IDMap(cid, start, length))
        cid += length
    return out


# ----------------------------------------------------------------- per container
INCOMPATIBLE = {  # dockerd's verifyPlatformContainerSettings, when remapping
    "privileged": "privileged mode is incompatible with user namespaces.  You must run the container "
                  "in the host namespace when running privileged mode",
    "network": "cannot share the host's network namespace when user namespaces are enabled",
    "pid": "cannot share the host PID namespace when user namespaces are enabled",
}


# berthd makes a container's network namespace itself, owned by the host's user namespace;
# runc then cannot mount sysfs in the container (dockerd lets runc make that namespace).
RUNTIME = ("--userns-remap: berth runs remapped containers under berth-runc only (runc cannot mount "
           "/sys in the network namespace berthd made for the container); use --userns host for this one")


def remapped(host: dict[str, Any], remap: Remap | None) -> bool:
    """Whether this container gets the daemon's user namespace (UsernsMode "host" opts out)."""
    return remap is not None and (host.get("UsernsMode") or "") != "host"


def check(host: dict[str, Any], remap: Remap | None, runtime: str) -> None:
    """dockerd's refusals of what a remapped container cannot have (ValueError: a 400).
    `runtime` "" is berth-runc; another one is refused (see RUNTIME)."""
    if not remapped(host, remap):
        return
    if runtime:
        raise ValueError(RUNTIME)
    if host.get("Privileged"):
        raise ValueError(INCOMPATIBLE["privileged"])
    if (host.get("NetworkMode") or "") == "host":
        raise ValueError(INCOMPATIBLE["network"])
    if (host.get("PidMode") or "") == "host":
        raise ValueError(INCOMPATIBLE["pid"])


def adjust_spec(oci: dict[str, Any], host: dict[str, Any], remap: Remap | None) -> None:
    """A user namespace with the daemon's mappings (berth-containerd shifts the layers for
    them); the /dev/pts gid and device owners stay container ids, as the kernel maps them."""
    if not remapped(host, remap):
        return
    assert remap is not None
    linux = oci["linux"]
    linux["namespaces"].append({"type": "user"})
    linux["uidMappings"] = remap.oci(remap.uid_maps)
    linux["gidMappings"] = remap.oci(remap.gid_maps)


def root_ids(remap: Remap | None) -> tuple[int, int] | None:
    """The host uid and gid of a remapped container's root (None: no remapping)."""
    return None if remap is None else (remap.root_uid, remap.root_gid)


def own_container_dir(cdir: str, host: dict[str, Any], remap: Remap | None) -> None:
    """The remapped root must reach /etc/hosts, hostname and resolv.conf in the container's
    dir (bind-mounted by the runtime as that root): dockerd's 0710 root:<remapped gid> on the
    containers dir and the container's own; the files are its root's (rewritten in place
    later, so they stay so). Each is changed only when it is not so already (the containers
    dir is, after the first create)."""
    if not remapped(host, remap):
        return
    assert remap is not None
    for d in (os.path.dirname(cdir), cdir):
        _own(d, 0, remap.root_gid)
    for name in ("hostname", "hosts", "resolv.conf"):
        with contextlib.suppress(FileNotFoundError):
            _own(os.path.join(cdir, name), remap.root_uid, remap.root_gid)


def _own(path: str, uid: int, gid: int) -> None:
    st = os.stat(path)
    if (st.st_uid, st.st_gid) != (uid, gid):
        os.chown(path, uid, gid)
