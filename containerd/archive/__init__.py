"""A container's files for docker cp and export (GET|HEAD|PUT /containers/{id}/archive,
GET /containers/{id}/export): stat, tar out, tar in, inside its root and nowhere else
(its volumes and binds seen where they are mounted: view.py)."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from ..diff.safetar import Feed
from ..snapshots import remap
from . import extract, paths, tarout
from .rootfs import RootfsViews
from .view import Bind

if TYPE_CHECKING:
    from ..runtime.tasks import TaskService


@dataclass
class PathInfo:
    name: str
    size: int
    mode: int  # st_mode
    mtime_ns: int
    link_target: str = ""


def _info(root_fd: int, entry: paths.Entry) -> PathInfo:
    s = entry.stat
    target = paths.link_target(root_fd, entry.abs_path) if stat.S_ISLNK(s.st_mode) else ""
    return PathInfo(entry.name, s.st_size, s.st_mode, s.st_mtime_ns, target)


class ArchiveService:
    def __init__(self, tasks: TaskService) -> None:
        self.tasks = tasks
        self.views = RootfsViews(tasks, os.path.dirname(tasks.dir))

    def stat(self, cid: str, path: str, binds: list[Bind] | None = None) -> PathInfo:
        with self.views.open(cid, binds) as root:
            entry = paths.lookup(root, path)
            try:
                return _info(root, entry)
            finally:
                os.close(entry.dir_fd)

    def read(self, cid: str, path: str, export: bool = False, binds: list[Bind] | None = None
             ) -> Iterator[PathInfo | bytes | tarout.Body]:
        """The stat first, then the tar's pieces; the root stays mounted until the end.
        export is of the rootfs alone (docker's leaves volumes and binds out)."""
        with self.views.open(cid, None if export else binds) as root:
            entry = paths.lookup(root, "/" if export else path)
            try:
                yield _info(root, entry)
                # --userns-remap: export's tar holds the container's ids, cp's the host's (dockerd's)
                mapping = _mapping(self.tasks.containers.get(cid).spec) if export else None
                yield from tarout.archive(entry, export, mapping.unshift if mapping else None)
            finally:
                os.close(entry.dir_fd)

    def write(self, cid: str, path: str, pieces: Iterator[bytes] | Feed, copy_uid_gid: bool,
              no_overwrite_dir_non_dir: bool, binds: list[Bind] | None = None, readonly_rootfs: bool = False) -> None:
        record = self.tasks.containers.get(cid)
        owner = extract.owner_of(record.spec) if copy_uid_gid else None
        mapping = _mapping(record.spec)
        shift = (lambda u, g: (mapping.uid(u), mapping.gid(g))) if mapping else None
        with self.views.open(cid, binds) as root:
            extract.extract(root, path, pieces, owner, no_overwrite_dir_non_dir, readonly_rootfs, shift)


def _mapping(spec: bytes) -> remap.Mapping | None:
    """--userns-remap: the container's files hold host ids, its archives its own."""
    return remap.mapping_of(json.loads(spec))
