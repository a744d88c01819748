"""docker --user: names resolved against the image's own /etc/passwd and /etc/group.

Only berth-containerd can see the container's files before it runs, so the name
travels here from berthd and leaves as numbers in spec.process.user.
"""

from __future__ import annotations

import json
from typing import Callable

from ..errors import InvalidArgument

ReadFile = Callable[[str], "bytes | None"]


def _entries(data: bytes | None) -> list[list[str]]:
    if not data:
        return []
    lines = data.decode(errors="replace").splitlines()
    return [line.split(":") for line in lines if line and not line.startswith("#")]


GROUP_ADD = "org.berth.group-add"  # the spec annotation berthd puts HostConfig.GroupAdd in


def group_add(spec: dict) -> list[str]:
    """HostConfig.GroupAdd, from the spec's annotation (berthd's daemon/containers/lifecycle.py)."""
    try:
        groups = json.loads((spec.get("annotations") or {}).get(GROUP_ADD) or "[]")
    except ValueError:
        return []
    return [str(g) for g in groups] if isinstance(groups, list) else []


def resolve(user: str, read_file: ReadFile, add: list[str] | None = None) -> dict:
    """As moby's GetExecUser: a uid missing from passwd runs with gid 0; a name must exist.
    `add`: docker's --group-add, names or numbers (GetAdditionalGroups), after the user's own."""
    name, _, group = user.partition(":")
    passwd = _entries(read_file("/etc/passwd"))
    uid, gid, login = 0, 0, ""
    if name:
        match = next((e for e in passwd if len(e) >= 4 and (e[0] == name or (name.isdigit() and e[2] == name))), None)
        if match is not None:
            login, uid, gid = match[0], int(match[2]), int(match[3])
        elif name.isdigit():
            uid = int(name)
        else:
            raise InvalidArgument(f"unable to find user {name}: no matching entries in passwd file")
    groups = _entries(read_file("/etc/group"))
    if group:
        match = next((e for e in groups if len(e) >= 3 and (e[0] == group or (group.isdigit() and e[2] == group))), None)
        if match is not None:
            gid = int(match[2])
        elif group.isdigit():
            gid = int(group)
        else:
            raise InvalidArgument(f"unable to find group {group}: no matching entries in group file")
    extra = sorted({int(e[2]) for e in groups
                    if len(e) >= 4 and login and login in e[3].split(",") and int(e[2]) != gid})
    for g in add or []:
        match = next((e for e in groups if len(e) >= 3 and (e[0] == g or e[2] == g)), None)
        if match is not None:
            gid_added = int(match[2])
        elif g.isdigit():
            gid_added = int(g)
            if gid_added > 2147483647:
                raise InvalidArgument("uids and gids must be in range 0-2147483647")
        else:
            raise InvalidArgument(f"Unable to find group {g}: no matching entries in group file")
        if gid_added not in extra:
            extra.append(gid_added)
    out: dict = {"uid": uid, "gid": gid}
    if extra:
        out["additionalGids"] = extra
    return out
