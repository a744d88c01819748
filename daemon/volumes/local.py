"""The `local` volume driver (moby volume/local): <data-root>/volumes/NAME/_data, the
volume's record beside it in berth.json (written atomically: the record is the commit,
a directory without one is what a crash left and is swept), and, with `type`/`device`/
`o` options, a mount of that device on _data made at first use and undone when the
last container using it stops."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from berth.common.files import read_json, write_json_atomic

from . import sysmount

RECORD = "berth.json"
ANONYMOUS = "com.docker.volume.anonymous"  # dockerd's label for a container's anonymous volumes
_OPTS = ("type", "device", "o", "size")
_NEEDS = {"device": ("type",), "type": ("device",), "o": ("device", "type")}


@dataclass
class Volume:
    name: str
    created_at: str
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] | None = None
    driver: str = "local"

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS in self.labels

    @property
    def needs_mount(self) -> bool:
        return bool(self.options and self.options.get("type"))


def check_options(opts: dict[str, str] | None) -> None:
    """validateOpts: known keys, and the ones that go together (ValueError: a 400)."""
    for key in opts or {}:
        if key not in _OPTS:
            raise ValueError(f'invalid option: "{key}"')
    for key, needs in _NEEDS.items():
        if key in (opts or {}):
            for other in needs:
                if other not in (opts or {}):
                    raise ValueError(f'missing required option: "{other}"')
    if opts and "size" in opts:
        raise ValueError("quota size requested but no quota support")


class LocalDriver:
    def __init__(self, root: str) -> None:
        self.root = root
        self.owner: tuple[int, int] | None = None  # a new volume's _data owner (--userns-remap's root)
        os.makedirs(root, mode=0o701, exist_ok=True)

    def dir_of(self, name: str) -> str:
        return os.path.join(self.root, name)

    def mountpoint(self, name: str) -> str:
        return os.path.join(self.root, name, "_data")

    def load(self) -> dict[str, Volume]:
        found: dict[str, Volume] = {}
        for name in sorted(os.listdir(self.root)):
            vdir = self.dir_of(name)
            if not os.path.isdir(vdir):
                continue
            try:
                found[name] = Volume(**read_json(os.path.join(vdir, RECORD)))
            except FileNotFoundError:
                if not sysmount.mounted_under(vdir):
                    shutil.rmtree(vdir, ignore_errors=True)  # half made or half removed
            except (OSError, ValueError, TypeError):
                continue  # unreadable: left for a human
        return found

    def create(self, name: str, labels: dict[str, str], options: dict[str, str] | None) -> Volume:
        check_options(options)
        v = Volume(name=name, created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   labels=dict(labels), options=dict(options) if options is not None else None)
        os.makedirs(self.mountpoint(name), mode=0o755, exist_ok=True)
        os.chmod(self.dir_of(name), 0o701)
        if self.owner is not None:  # as dockerd's: the remapped root owns what it will write to
            os.chown(self.mountpoint(name), *self.owner)
        write_json_atomic(os.path.join(self.dir_of(name), RECORD), asdict(v), 0o600)
        return v

    def remove(self, v: Volume) -> None:
        self.unmount(v)
        if sysmount.mounted_under(self.dir_of(v.name)):  # never rmtree through a device's files
            raise OSError(f"remove {v.name}: its mountpoint is still mounted")
        try:
            os.unlink(os.path.join(self.dir_of(v.name), RECORD))
        except FileNotFoundError:
            pass
        shutil.rmtree(self.dir_of(v.name), ignore_errors=True)

    def mount(self, v: Volume) -> None:
        """The device on _data, unless it is there already (another container uses it)."""
        if not v.needs_mount:
            return
        target = self.mountpoint(v.name)
        if sysmount.is_mountpoint(target):
            return
        opts = v.options or {}
        flags, data = sysmount.split_options(opts.get("o", ""))
        device, fstype = opts.get("device", ""), opts.get("type", "")
        try:
            sysmount.mount(device, target, None if fstype == "none" else fstype, flags, data)
            if flags & sysmount.MS_BIND and flags & ~(sysmount.MS_BIND | sysmount.MS_REC):
                sysmount.mount("", target, None, flags | sysmount.MS_REMOUNT)  # ro etc. on a bind
        except OSError as e:
            raise OSError(e.errno, f"failed to mount local volume: mount {device}:{target}, data: {data}: "
                                   f"{os.strerror(e.errno or 0).lower()}") from None

    def unmount(self, v: Volume) -> None:
        if v.needs_mount:
            sysmount.unmount(self.mountpoint(v.name))

    def size(self, v: Volume) -> int:
        total = 0
        for dirpath, dirs, files in os.walk(self.mountpoint(v.name)):
            for f in files + dirs:
                try:
                    total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
                except OSError:
                    pass
        return total


def view(v: Volume, mountpoint: str) -> dict[str, Any]:
    """docker's volume JSON (GET /volumes/{name}, the list's entries)."""
    return {"CreatedAt": v.created_at, "Driver": v.driver, "Labels": v.labels, "Mountpoint": mountpoint,
            "Name": v.name, "Options": v.options, "Scope": "local"}
