"""Containers as berthd knows them, persisted one directory each under
<data-root>/containers/<id>/config.v2.json (written atomically), like dockerd."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from typing import Any

from berth.common.files import read_json, write_json_atomic
from berth.common.timefmt import ZERO_TIME

from ..http.errors import ApiError, conflict, no_such_container

CONFIG = "config.v2.json"
_ID = re.compile(r"^[0-9a-f]{64}$")
_TMP = re.compile(r"\.tmp\.\d+$")  # write_atomic's temporary name: <name>.tmp.<pid>


@dataclass
class State:
    status: str = "created"  # created | running | restarting | exited | removing | dead
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    oom_killed: bool = False
    paused: bool = False  # frozen (docker pause): still running (containers/pause.py)

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass
class Container:
    id: str
    name: str  # with docker's leading "/"
    created: str
    path: str
    args: list[str]
    config: dict[str, Any]
    host_config: dict[str, Any]
    image: str  # image id, sha256:...
    runtime: str
    state: State = field(default_factory=State)
    restart_count: int = 0
    resources_pending: bool = False  # `update` while stopped: applied to the next task (update.py)
    manually_stopped: bool = False  # moby's HasBeenManuallyStopped: unless-stopped stays stopped (restart.py)
    health: dict[str, Any] | None = None  # State.Health, kept across berthd restarts (daemon/health/)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Container":
        d = dict(d)
        d["state"] = State(**d.get("state", {}))
        return cls(**d)


class Store:
    """The in-memory index (by id and by name) over the on-disk records."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.by_id: dict[str, Container] = {}
        self.by_name: dict[str, str] = {}
        os.makedirs(root, mode=0o710, exist_ok=True)

    def dir_of(self, cid: str) -> str:
        return os.path.join(self.root, cid)

    def log_path(self, cid: str) -> str:
        return os.path.join(self.root, cid, f"{cid}-json.log")

    def load(self) -> list[Container]:
        """Read every record, and sweep what a crash left: a directory without its
        record (killed between reserve's mkdir and rename, or in forget's rmtree) and
        temporary files beside a record (killed in the middle of a save)."""
        for cid in sorted(os.listdir(self.root)):
            cdir = os.path.join(self.root, cid)
            if not _ID.match(cid) or not os.path.isdir(cdir):
                continue  # not ours
            _drop_temporaries(cdir)
            try:
                c = Container.from_json(read_json(os.path.join(cdir, CONFIG)))
            except FileNotFoundError:
                shutil.rmtree(cdir, ignore_errors=True)  # half created or half removed
                continue
            except (OSError, ValueError, TypeError):
                continue  # unreadable: left for a human rather than destroyed
            self.by_id[c.id] = c
            self.by_name[c.name] = c.id
        return list(self.by_id.values())

    def check_name(self, name: str) -> None:
        other = self.by_name.get(name)
        if other is not None:
            raise conflict(
                f'Conflict. The container name "{name}" is already in use by container "{other}". '
                "You have to remove (or rename) that container to be able to reuse that name.")

    def reserve(self, c: Container) -> None:
        """Claim the name and write the record (no await in between: one step on the loop)."""
        self.check_name(c.name)
        self.by_name[c.name] = c.id
        self.by_id[c.id] = c
        os.makedirs(self.dir_of(c.id), mode=0o710, exist_ok=True)
        self.save(c)

    def rename(self, c: Container, new: str) -> None:
        """docker rename: the new name claimed and the old one freed in one step on the loop."""
        self.check_name(new)
        old, c.name = c.name, new
        self.by_name[new] = c.id
        try:
            self.save(c)
        except BaseException:
            c.name = old
            del self.by_name[new]
            raise
        if self.by_name.get(old) == c.id:
            del self.by_name[old]

    def save(self, c: Container) -> None:
        write_json_atomic(os.path.join(self.dir_of(c.id), CONFIG), c.to_json(), 0o600)

    def forget(self, c: Container) -> None:
        """Drop the record, then the rest: a crash in the rmtree leaves a directory
        without a record, which load() sweeps, never a record without its files."""
        self.by_id.pop(c.id, None)
        if self.by_name.get(c.name) == c.id:
            del self.by_name[c.name]
        try:
            os.unlink(os.path.join(self.dir_of(c.id), CONFIG))
        except FileNotFoundError:
            pass
        shutil.rmtree(self.dir_of(c.id), ignore_errors=True)

    def get(self, ref: str) -> Container:
        """Docker's lookup order: full id, exact name, then a unique id prefix."""
        if ref in self.by_id:
            return self.by_id[ref]
        cid = self.by_name.get(ref if ref.startswith("/") else "/" + ref)
        if cid is not None:
            return self.by_id[cid]
        if ref:
            matches = [cid for cid in self.by_id if cid.startswith(ref)]
            if len(matches) == 1:
                return self.by_id[matches[0]]
            if len(matches) > 1:
                raise ApiError(400, f"Multiple IDs found with provided prefix: {ref}")
        raise no_such_container(ref)

    def all(self) -> list[Container]:
        return sorted(self.by_id.values(), key=lambda c: c.created, reverse=True)


def _drop_temporaries(cdir: str) -> None:
    for name in os.listdir(cdir):
        if _TMP.search(name):
            try:
                os.unlink(os.path.join(cdir, name))
            except (FileNotFoundError, IsADirectoryError):
                pass
