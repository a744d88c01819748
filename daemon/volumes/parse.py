"""HostConfig.Binds, Mounts and Tmpfs into mount points, with dockerd's refusals word for
word (volume/mounts/linux_parser.go): they are what scripts and users match on.

Pure functions: nothing here looks at the disk except `--mount`'s check that a bind
source exists (dockerd's ParseMountSpec does that at create too)."""

from __future__ import annotations

import os
import posixpath
import re
from typing import Any

from .points import MountPoint

NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_RW, _LABEL, _COPY, _CONSISTENCY = ("rw", "ro"), ("z", "Z"), ("nocopy",), ("consistent", "cached", "delegated")
_TMPFS_FLAGS = {"exec", "noexec", "suid", "nosuid", "dev", "nodev", "ro", "rw", "atime", "noatime",
                "diratime", "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime",
                "sync", "async", "dirsync", "mand", "nomand", "lazytime", "nolazytime"}
_TMPFS_DATA = {"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol", "huge", "inode64", "noswap"}


class MountError(ValueError):
    """A request's mount that dockerd refuses (a 400); str() is dockerd's message."""


def invalid_name(name: str) -> str:
    """The local driver's refusal of a name (volume/local: validateName)."""
    if len(name) == 1:
        return "volume name is too short, names should be at least two alphanumeric characters"
    return (f'"{name}" includes invalid characters for a local volume name, only "{NAME_CHARS}" are allowed. '
            "If you intended to pass a host directory, use absolute path")


def valid_mode(mode: str) -> bool:
    """linuxValidMountMode: known words, at most one of each kind."""
    if mode == "":
        return True
    counts = [0, 0, 0, 0, 0]
    for word in mode.split(","):
        for i, kind in enumerate((_RW, _LABEL, PROPAGATIONS, _COPY, _CONSISTENCY)):
            if word in kind:
                counts[i] += 1
                break
        else:
            return False
    return max(counts) <= 1


def _config_error(mtype: str, why: str) -> MountError:
    return MountError(f'invalid mount config for type "{mtype}": {why}')


def _check_target(mtype: str, target: str) -> None:
    if not target:
        raise _config_error(mtype, "field Target must not be empty")
    if posixpath.normpath(target) == "/":
        raise _config_error(mtype, "invalid specification: destination can't be '/'")
    if not target.startswith("/"):
        raise _config_error(mtype, f"invalid mount path: '{target}' mount path must be absolute")


def parse_bind(raw: str) -> MountPoint:
    """One -v / Binds entry: HOST:CTR[:MODE], NAME:CTR[:MODE] (ParseMountRaw)."""
    spec_error = f"invalid volume specification: '{raw}'"
    parts = raw.split(":", 3)
    if not parts[0] or len(parts) == 1 or len(parts) > 3:
        # one part (a bare /ctr) is Config.Volumes' business, not Binds'
        raise MountError(spec_error)
    if len(parts) == 2 and valid_mode(parts[1]):
        raise MountError(spec_error)  # /foo:rw names no destination
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else ""
    if not valid_mode(mode):
        raise MountError(f"invalid mode: {mode}")
    words = mode.split(",") if mode else []
    mtype = "bind" if source.startswith("/") else "volume"
    try:
        _check_target(mtype, target)
        if mtype == "bind" and "nocopy" in words:
            raise _config_error("bind", "field VolumeOptions must not be specified")
        if mtype == "volume" and any(w in PROPAGATIONS for w in words):
            raise _config_error("volume", "field BindOptions must not be specified")
    except MountError as e:
        raise MountError(f"{spec_error}: {e}") from None
    if mtype == "volume" and not NAME.match(source):
        raise MountError(f"create {source}: {invalid_name(source)}")
    prop = next((w for w in words if w in PROPAGATIONS), "rprivate" if mtype == "bind" else "")
    mp = MountPoint(type=mtype, destination=posixpath.normpath(target), mode=mode, rw="ro" not in words,
                    propagation=prop, copy_data="nocopy" not in words)
    if mtype == "bind":
        mp.source, mp.create_source = posixpath.normpath(source), True
    else:
        mp.name, mp.driver = source, "local"
        mp.mode = mode or "z"  # dockerd's setBindModeIfNull for the local driver
    return mp


def parse_mount(m: dict[str, Any]) -> MountPoint:
    """One HostConfig.Mounts entry (ParseMountSpec, with the source check)."""
    if not isinstance(m, dict):
        raise MountError("invalid mount config: not an object")
    mtype = str(m.get("Type") or "")
    source, target = str(m.get("Source") or ""), str(m.get("Target") or "")
    ro = bool(m.get("ReadOnly"))
    bind_o, vol_o, tmp_o = m.get("BindOptions"), m.get("VolumeOptions"), m.get("TmpfsOptions")
    if mtype not in ("bind", "volume", "tmpfs"):
        _check_target(mtype, target)
        raise _config_error(mtype, "mount type unknown")
    _check_target(mtype, target)
    for field, value, allowed in (("BindOptions", bind_o, "bind"), ("VolumeOptions", vol_o, "volume"),
                                  ("TmpfsOptions", tmp_o, "tmpfs")):
        if value is not None and mtype != allowed:
            raise _config_error(mtype, f"field {field} must not be specified")
    dest = posixpath.normpath(target)
    if mtype == "bind":
        return _bind_mount(source, dest, ro, bind_o or {})
    if mtype == "volume":
        return _volume_mount(source, dest, ro, vol_o or {})
    if source:
        raise _config_error("tmpfs", "field Source must not be specified")
    return MountPoint(type="tmpfs", destination=dest, rw=not ro, tmpfs=_tmpfs_options(tmp_o or {}, ro))


def _bind_mount(source: str, dest: str, ro: bool, opts: dict[str, Any]) -> MountPoint:
    if not source:
        raise _config_error("bind", "field Source must not be empty")
    prop = str(opts.get("Propagation") or "")
    if prop and prop not in PROPAGATIONS:
        raise _config_error("bind", f"invalid propagation mode: {prop}")
    if not source.startswith("/"):
        raise _config_error("bind", f"invalid mount path: '{source}' mount path must be absolute")
    create = bool(opts.get("CreateMountpoint"))
    if not create and not os.path.lexists(source):
        raise _config_error("bind", f"bind source path does not exist: {source}")
    if opts.get("ReadOnlyNonRecursive") or opts.get("ReadOnlyForceRecursive"):
        raise _config_error("bind", "berth does not support ReadOnlyNonRecursive or ReadOnlyForceRecursive")
    return MountPoint(type="bind", destination=dest, source=posixpath.normpath(source), rw=not ro,
                      propagation=prop or "rprivate", create_source=create,
                      recursive=not opts.get("NonRecursive"))


def _volume_mount(source: str, dest: str, ro: bool, opts: dict[str, Any]) -> MountPoint:
    if opts.get("Subpath"):
        raise _config_error("volume", "berth does not support VolumeOptions.Subpath")
    if ro and not source:
        raise _config_error("volume", "must not set ReadOnly mode when using anonymous volumes")
    if source and not NAME.match(source):
        raise MountError(f"create {source}: {invalid_name(source)}")
    driver = opts.get("DriverConfig") or {}
    labels = opts.get("Labels") or None
    return MountPoint(type="volume", destination=dest, name=source, driver=str(driver.get("Name") or "local"),
                      mode="z", rw=not ro, copy_data=not opts.get("NoCopy"), anonymous=not source,
                      volume_opts=dict(driver.get("Options") or {}) or None,
                      volume_labels=dict(labels) if labels else None)


def _tmpfs_options(opts: dict[str, Any], ro: bool) -> str:
    """ConvertTmpfsOptions: ro, mode=octal, size with the largest unit that divides it."""
    out = ["ro"] if ro else []
    mode, size = opts.get("Mode") or 0, opts.get("SizeBytes") or 0
    if not isinstance(mode, int) or not isinstance(size, int) or size < 0:
        raise _config_error("tmpfs", "TmpfsOptions.Mode and SizeBytes must be integers")
    if mode:
        out.append(f"mode={mode:o}")
    if size:
        for suffix, div in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size % div == 0:
                out.append(f"size={size // div}{suffix}")
                break
        else:
            out.append(f"size={size}")
    for opt in opts.get("Options") or []:
        if not isinstance(opt, list) or not 1 <= len(opt) <= 2:
            raise _config_error("tmpfs", "invalid option array length")
        if opt[0] not in ("exec", "noexec"):
            raise _config_error("tmpfs", f"invalid option: {opt[0]}")
        out.append("=".join(str(x) for x in opt))
    return ",".join(out)


def parse_tmpfs(dest: str, data: str) -> MountPoint:
    """One HostConfig.Tmpfs entry: {"/run": "rw,size=64m"}."""
    if posixpath.normpath(dest) == "/":
        raise MountError("invalid specification: destination can't be '/'")
    if not dest.startswith("/"):
        raise MountError(f"invalid mount path: '{dest}' mount path must be absolute")
    for word in (data or "").split(","):
        key = word.split("=", 1)[0]
        if word and key not in _TMPFS_FLAGS and key not in _TMPFS_DATA:
            raise MountError(f'invalid tmpfs option ["{word}"]')
    return MountPoint(type="tmpfs", destination=posixpath.normpath(dest), rw="ro" not in data.split(","),
                      tmpfs=data or "")


def parse_volumes_from(spec: str) -> tuple[str, str]:
    """CID[:ro|rw] (ParseVolumesFrom): the container and the mode its volumes get."""
    if not spec:
        raise MountError("volumes-from specification cannot be an empty string")
    cid, _, mode = spec.partition(":")
    if not mode:
        return cid, "rw"
    words = mode.split(",")
    if (not valid_mode(mode) or any(w in PROPAGATIONS for w in words) or "nocopy" in words):
        raise MountError(f"invalid mode: {mode}")
    return cid, mode


def anonymous(dest: str) -> MountPoint:
    """A volume for Config.Volumes (the image's VOLUME, or `-v /ctr`)."""
    if not dest.startswith("/"):
        raise MountError(f"invalid volume specification: '{dest}': invalid mount config for type \"volume\": "
                         f"invalid mount path: '{dest}' mount path must be absolute")
    return MountPoint(type="volume", destination=posixpath.normpath(dest), driver="local", anonymous=True)
