"""run/create's -v, --mount, --tmpfs and --volumes-from into the create body, as the
docker CLI sends them (cli/command/container/opts.go, opts/mount.go): loaded only when
one of them is given."""

from __future__ import annotations

import os

MOUNT_FLAGS = ("volume", "mount", "tmpfs", "volumes_from")
_BOOL_TRUE = ("", "1", "t", "true", "yes")
_BOOL_FALSE = ("0", "f", "false", "no")


def _bool(key: str, value: str | None) -> bool:
    text = (value or "").lower()
    if value is None or text in _BOOL_TRUE:
        return True
    if text in _BOOL_FALSE:
        return False
    raise ValueError(f'invalid value for {key}: {value}')


def _kv(key: str, value: str) -> tuple[str, str]:
    name, eq, val = value.partition("=")
    if not eq:
        raise ValueError(f"invalid value for {key}: {value}")
    return name, val


def parse_mount(spec: str) -> dict:
    """One --mount: type=bind|volume|tmpfs,source=,target=,readonly,... (docker's keys)."""
    from berth.client import units

    m: dict = {"Type": "volume"}
    bind: dict = {}
    vol: dict = {}
    tmp: dict = {}
    for field in filter(None, next_fields(spec)):
        key, eq, value = field.partition("=")
        key = key.strip().lower()
        if not eq and key not in ("readonly", "ro", "volume-nocopy", "bind-nonrecursive"):
            raise ValueError(f"invalid field '{field}' must be a key=value pair")
        v = value if eq else None
        if key == "type":
            m["Type"] = value.lower()
        elif key in ("source", "src"):
            m["Source"] = value
        elif key in ("target", "dst", "destination"):
            m["Target"] = value
        elif key in ("readonly", "ro"):
            m["ReadOnly"] = _bool(key, v)
        elif key == "consistency":
            m["Consistency"] = value
        elif key == "bind-propagation":
            bind["Propagation"] = value.lower()
        elif key == "bind-nonrecursive":
            bind["NonRecursive"] = _bool(key, v)
        elif key == "volume-nocopy":
            vol["NoCopy"] = _bool(key, v)
        elif key == "volume-label":
            vol.setdefault("Labels", {}).update([_kv(key, value)])
        elif key == "volume-driver":
            vol.setdefault("DriverConfig", {})["Name"] = value
        elif key == "volume-opt":
            vol.setdefault("DriverConfig", {}).setdefault("Options", {}).update([_kv(key, value)])
        elif key == "volume-subpath":
            vol["Subpath"] = value
        elif key == "tmpfs-size":
            tmp["SizeBytes"] = units.convert("bytes", value)
        elif key == "tmpfs-mode":
            try:
                tmp["Mode"] = int(value, 8)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {value}") from None
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")
    if "Target" not in m:
        raise ValueError("target is required")
    for field, opts, wanted in (("BindOptions", bind, "bind"), ("VolumeOptions", vol, "volume"),
                                ("TmpfsOptions", tmp, "tmpfs")):
        if opts:
            if m["Type"] != wanted:
                raise ValueError(f"cannot mix '{field[:-7].lower()}-*' options with mount type '{m['Type']}'")
            m[field] = opts
    return m


def next_fields(spec: str) -> list[str]:
    """The comma-separated fields, with docker's CSV quoting ("a,b" stays one field)."""
    import csv

    return next(csv.reader([spec]))


def apply(config: dict, o: dict) -> None:
    """The mount flags into a create body."""
    host = config["HostConfig"]
    binds, volumes = [], {}
    for spec in o.get("volume") or []:
        parts = spec.split(":")
        if len(parts) == 1:
            volumes[spec] = {}  # -v /ctr: an anonymous volume
            continue
        if parts[0] == "." or parts[0].startswith("./") or parts[0] == "..":
            parts[0] = os.path.abspath(parts[0])  # the CLI makes ./relative host paths absolute
        binds.append(":".join(parts))
    if binds:
        host["Binds"] = binds
    if volumes:
        config["Volumes"] = volumes
    if o.get("mount"):
        host["Mounts"] = []
        for spec in o["mount"]:
            try:
                host["Mounts"].append(parse_mount(spec))
            except ValueError as e:
                raise ValueError(f'invalid argument "{spec}" for "--mount" flag: {e}') from None
    if o.get("tmpfs"):
        host["Tmpfs"] = {path: opts for path, _, opts in (s.partition(":") for s in o["tmpfs"])}
    if o.get("volumes_from"):
        host["VolumesFrom"] = list(o["volumes_from"])
