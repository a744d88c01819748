"""A container's mount points (dockerd's MountPoint), kept beside its record as
<data-root>/containers/<id>/mounts.json, and shown in inspect as docker shows them."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from berth.common.files import read_json, write_json_atomic

FILE = "mounts.json"


@dataclass
class MountPoint:
    type: str  # bind | volume | tmpfs
    destination: str
    source: str = ""  # a bind's host path, a volume's mountpoint (filled when the volume is known)
    name: str = ""  # the volume's name
    driver: str = ""
    mode: str = ""  # as given after the second colon of -v (docker shows it)
    rw: bool = True
    propagation: str = ""
    copy_data: bool = True  # a new volume is filled from the image first (not nocopy)
    anonymous: bool = False
    create_source: bool = False  # -v makes a missing host directory; --mount refuses it
    recursive: bool = True  # rbind, unless BindOptions.NonRecursive
    tmpfs: str = ""  # tmpfs data options ("size=64m,mode=1777")
    volume_opts: dict[str, str] | None = None  # VolumeOptions.DriverConfig.Options, for a volume made now
    volume_labels: dict[str, str] | None = None

    def view(self) -> dict[str, Any]:
        """One entry of inspect's Mounts."""
        out: dict[str, Any] = {"Type": self.type}
        if self.type == "volume":
            out["Name"] = self.name
        out["Source"] = self.source
        out["Destination"] = self.destination
        if self.type == "volume":
            out["Driver"] = self.driver
        out.update({"Mode": self.mode, "RW": self.rw, "Propagation": self.propagation})
        return out


def save(container_dir: str, points: list[MountPoint]) -> None:
    write_json_atomic(os.path.join(container_dir, FILE), [asdict(p) for p in points], 0o600)


def load(container_dir: str) -> list[MountPoint]:
    try:
        raw = read_json(os.path.join(container_dir, FILE))
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        return []
    return [MountPoint(**p) for p in raw if isinstance(p, dict)]
