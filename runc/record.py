"""The container's record under --root/<id>/ and how its status is derived.

state.json is written once the init is ready (atomically), and again on
pause/resume; the status itself is never stored: like runc, it is read from the
kernel each time (is the init alive and the same process, does exec.fifo still
exist, is the cgroup frozen).
"""

from __future__ import annotations

import json
import os
import re

from berth.common.files import write_atomic
from berth.runc.errors import RuncError

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

STATE_FILE = "state.json"
EXEC_FIFO = "exec.fifo"
OCI_VERSION = "1.0.2-dev"
_ID_RE = re.compile(r"^[\w+\-.]+$")


_FIELDS = ("id", "bundle", "rootfs", "created", "pid", "start_time", "owner", "annotations", "config",
           "cgroup_paths", "namespaces", "paused")


class Record:
    """What we persist about one container (our format; `oci_state` is the public view).

    A plain class rather than a dataclass: importing dataclasses (and with it
    inspect) costs ~10 ms, a third of runc's whole `run`.
    """

    __slots__ = _FIELDS

    def __init__(self, id: str, bundle: str, rootfs: str, created: str, pid: int = 0, start_time: int = 0,
                 owner: str = "", annotations: dict[str, str] | None = None, config: dict[str, Any] | None = None,
                 cgroup_paths: dict[str, str] | None = None, namespaces: dict[str, str] | None = None,
                 paused: bool = False) -> None:
        self.id, self.bundle, self.rootfs, self.created = id, bundle, rootfs, created
        self.pid = pid
        self.start_time = start_time  # field 22 of /proc/<pid>/stat: guards against pid reuse
        self.owner = owner
        self.annotations = annotations or {}
        self.config = config or {}
        self.cgroup_paths = cgroup_paths or {}
        self.namespaces = namespaces or {}  # type -> /proc/<pid>/ns path to join on exec
        self.paused = paused

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}


def validate_id(container_id: str) -> None:
    if not container_id or container_id in (".", "..") or not _ID_RE.match(container_id):
        raise RuncError("invalid container id format: " + container_id)


def container_dir(root: str, container_id: str) -> str:
    return os.path.join(root, container_id)


def load(root: str, container_id: str) -> Record:
    validate_id(container_id)
    try:
        with open(os.path.join(root, container_id, STATE_FILE), "rb") as f:
            data = json.load(f)
    except (FileNotFoundError, NotADirectoryError):
        raise RuncError("container does not exist") from None
    except ValueError as e:
        raise RuncError(f"unable to parse state of {container_id}: {e}") from None
    return Record(**data)


def save(root: str, rec: Record) -> None:
    write_replace(os.path.join(root, rec.id, STATE_FILE),
                  json.dumps(rec.to_dict(), separators=(",", ":")).encode(), 0o600)


def write_replace(path: str, data: bytes, mode: int = 0o644) -> None:
    """Atomic but not durable: see berth.common.files.write_atomic."""
    write_atomic(path, data, mode, durable=False)


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time) of a live pid, or None when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rfind(")") + 2:].split()
    return rest[0], int(rest[19])


def init_alive(rec: Record) -> bool:
    """The init is alive and is still our process; a zombie counts as ended."""
    if rec.pid <= 0:
        return False
    st = proc_stat(rec.pid)
    return st is not None and st[0] not in ("Z", "X") and st[1] == rec.start_time


def status(root: str, rec: Record) -> str:
    if not init_alive(rec):
        return "stopped"
    if os.path.exists(os.path.join(root, rec.id, EXEC_FIFO)):
        return "created"
    if rec.paused:
        return "paused"
    return "running"


def oci_state(root: str, rec: Record, *, with_owner: bool = False) -> dict[str, Any]:
    """The OCI state JSON, with runc's field order and its extras (rootfs, created, owner)."""
    st = status(root, rec)
    out: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "id": rec.id,
        "pid": rec.pid if st != "stopped" else 0,
        "status": st,
        "bundle": rec.bundle,
        "rootfs": rec.rootfs,
        "created": rec.created,
        "owner": ("root" if with_owner else rec.owner),
    }
    if rec.annotations:
        out["annotations"] = rec.annotations
    return out


def list_ids(root: str) -> list[str]:
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    return [n for n in names if os.path.exists(os.path.join(root, n, STATE_FILE))]


def remove_dir(path: str) -> None:
    """Remove a container's state directory (flat: state.json, exec.fifo, temp files)."""
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        try:
            os.unlink(os.path.join(path, name))
        except IsADirectoryError:
            import shutil

            shutil.rmtree(os.path.join(path, name), ignore_errors=True)
        except FileNotFoundError:
            pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
