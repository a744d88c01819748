"""`Volumes`: the volume API (create, list, inspect, remove, prune) over the local
driver, and the container service's hooks (create, start, exit, remove, restore).

Which containers use a volume is never counted: it is read from the containers' own
mount points (mounts.json beside each record), so it is right after any restart."""

from __future__ import annotations

import logging
import os
import secrets
from typing import Any, Callable

from ..http.errors import ApiError, bad_request
from . import local, plan, staging
from . import oci as ocimounts
from .local import ANONYMOUS, LocalDriver, Volume
from .parse import NAME, MountError, invalid_name
from .points import MountPoint, load, save

log = logging.getLogger("berthd.volumes")


def no_such_volume(name: str) -> ApiError:
    return ApiError(404, f"get {name}: no such volume")


class Volumes:
    def __init__(self, data_root: str, exec_root: str) -> None:
        self.driver = LocalDriver(os.path.join(data_root, "volumes"))
        self.stage_root = os.path.join(exec_root, "volumes", "binds")
        self.by_name: dict[str, Volume] = self.driver.load()
        self.points: dict[str, list[MountPoint]] = {}  # container id -> its mount points
        self._made: dict[str, list[str]] = {}  # volumes a create in flight made (undone if it fails)

    # ------------------------------------------------------------- volume API
    def get(self, name: str) -> Volume:
        v = self.by_name.get(name)
        if v is None:
            raise no_such_volume(name)
        return v

    def view(self, v: Volume) -> dict[str, Any]:
        return local.view(v, self.driver.mountpoint(v.name))

    def usage(self) -> list[dict[str, Any]]:
        """/system/df's volumes: the only place docker shows UsageData (Size, RefCount)."""
        return [{**self.view(v), "UsageData": {"Size": self.driver.size(v), "RefCount": len(self.users(v.name))}}
                for v in sorted(self.by_name.values(), key=lambda v: v.name)]

    def users(self, name: str) -> list[str]:
        return [cid for cid, pts in self.points.items() if any(p.type == "volume" and p.name == name for p in pts)]

    def create(self, name: str, driver: str, labels: dict[str, str] | None,
               options: dict[str, str] | None) -> Volume:
        driver = driver or "local"
        if not name:
            name = secrets.token_hex(32)
        elif not NAME.match(name):
            raise bad_request(f"create {name}: {invalid_name(name)}")
        if driver != "local":
            raise ApiError(404, f"create {name}: error looking up volume plugin {driver}: plugin "
                                f"\"{driver}\" not found")
        old = self.by_name.get(name)
        if old is not None:
            return old  # dockerd answers with the one there
        try:
            v = self.driver.create(name, labels or {}, options)
        except ValueError as e:
            raise bad_request(f"create {name}: {e}") from None
        self.by_name[name] = v
        return v

    def remove(self, name: str, force: bool) -> None:
        v = self.by_name.get(name)
        if v is None:
            if force:
                return
            raise no_such_volume(name)
        users = self.users(name)
        if users:
            raise ApiError(409, f"remove {name}: volume is in use - [{', '.join(users)}]")
        self.driver.remove(v)
        del self.by_name[name]

    def list(self, filters: dict[str, list[str]]) -> list[Volume]:
        for key in filters:
            if key not in ("dangling", "name", "label", "driver"):
                raise bad_request(f"invalid filter '{key}'")
        return [v for v in sorted(self.by_name.values(), key=lambda v: v.name) if self._matches(v, filters)]

    def _matches(self, v: Volume, filters: dict[str, list[str]]) -> bool:
        for value in filters.get("dangling", []):
            if value.lower() not in ("true", "1", "false", "0"):
                raise bad_request(f"invalid filter 'dangling={value}'")
            if (value.lower() in ("true", "1")) == bool(self.users(v.name)):
                return False
        if filters.get("name") and not any(n in v.name for n in filters["name"]):
            return False
        if filters.get("driver") and v.driver not in filters["driver"]:
            return False
        return _labels_match(v.labels, filters.get("label", []))

    def prune(self, filters: dict[str, list[str]]) -> tuple[list[str], int]:
        """Unused volumes: only anonymous ones unless all=true (API >= 1.42)."""
        for key in filters:
            if key not in ("label", "label!", "all"):
                raise bad_request(f"invalid filter '{key}'")
        every = any(x.lower() in ("true", "1") for x in filters.get("all", []))
        gone, space = [], 0
        for v in list(self.by_name.values()):
            if self.users(v.name) or (not every and not v.anonymous):
                continue
            if not _labels_match(v.labels, filters.get("label", [])):
                continue
            if filters.get("label!") and _labels_match(v.labels, filters["label!"]):
                continue
            space += self.driver.size(v)
            self.driver.remove(v)
            del self.by_name[v.name]
            gone.append(v.name)
        return gone, space

    # ----------------------------------------------------- container: create
    def claim(self, cid: str, host: dict[str, Any], config: dict[str, Any], image_cfg: dict[str, Any],
              points_of: Callable[[str], list[MountPoint]]) -> None:
        """The new container's mount points, its volumes found or made (dockerd makes them
        at create too); Config.Volumes as inspect shows it (the image's included)."""
        try:
            points = plan.plan(host, config, image_cfg, points_of)
        except MountError as e:
            raise bad_request(str(e)) from None
        made = self._made.setdefault(cid, [])
        for mp in points:
            if mp.type != "volume" or mp.source:
                continue  # a volumes-from entry comes resolved
            if mp.driver != "local":
                raise ApiError(404, f"create {mp.name}: error looking up volume plugin {mp.driver}: plugin "
                                    f"\"{mp.driver}\" not found")
            if not mp.name:
                mp.name = secrets.token_hex(32)
            if mp.name not in self.by_name:
                labels = {**(mp.volume_labels or {}), **({ANONYMOUS: ""} if mp.anonymous else {})}
                self.create(mp.name, "local", labels, mp.volume_opts)
                made.append(mp.name)
            mp.source = self.driver.mountpoint(mp.name)
            mp.volume_opts = mp.volume_labels = None
        self.points[cid] = points
        volumes = {**(image_cfg.get("Volumes") or {}), **(config.get("Volumes") or {})}
        if volumes:
            config["Volumes"] = volumes

    def commit(self, cid: str, container_dir: str) -> None:
        save(container_dir, self.points.get(cid, []))
        self._made.pop(cid, None)

    def apply_spec(self, oci: dict[str, Any], cid: str) -> None:
        ocimounts.apply(oci, self.points.get(cid, []), cid, self.stage_root)

    def abandon(self, cid: str) -> None:
        """A create that failed: its points go, and the volumes it made."""
        self.points.pop(cid, None)
        for name in self._made.pop(cid, []):
            v = self.by_name.get(name)
            if v is not None and not self.users(name):
                self.driver.remove(v)
                del self.by_name[name]

    def points_of(self, cid: str) -> list[MountPoint]:
        return self.points.get(cid, [])

    # ------------------------------------------------- container: start, stop
    def starting(self, cid: str, running: Callable[[str], bool]) -> None:
        """Before the task's create: device volumes mounted, bind sources pinned."""
        points = self.points.get(cid, [])
        try:
            for mp in points:
                if mp.type == "volume" and mp.name in self.by_name:
                    self.driver.mount(self.by_name[mp.name])
            staging.pin(points, cid, self.stage_root)
        except (OSError, staging.SourceError) as e:
            self.stopped(cid, running)
            raise ApiError(500, str(e)) from None

    def started(self, cid: str) -> None:
        """The runtime has made its mounts: the pins go."""
        staging.unpin(cid, self.stage_root)

    def start_failed(self, cid: str, running: Callable[[str], bool]) -> None:
        staging.unpin(cid, self.stage_root)
        self.stopped(cid, running)

    def stopped(self, cid: str, running: Callable[[str], bool]) -> None:
        """A device volume is unmounted when no running container uses it any more."""
        for mp in self.points.get(cid, []):
            v = self.by_name.get(mp.name) if mp.type == "volume" else None
            if v is not None and v.needs_mount and not any(running(u) for u in self.users(v.name) if u != cid):
                try:
                    self.driver.unmount(v)
                except OSError as e:
                    log.warning("volume %s: unmount: %s", v.name, e)

    # ---------------------------------------------------- container: remove
    def anonymous_of(self, cid: str) -> list[str]:
        return [mp.name for mp in self.points.get(cid, []) if mp.type == "volume" and mp.anonymous]

    def removed(self, cid: str, drop_anonymous: bool) -> None:
        anonymous = self.anonymous_of(cid)
        self.points.pop(cid, None)
        if drop_anonymous:
            self.remove_unused(anonymous)

    def remove_unused(self, names: list[str]) -> None:
        """rm -v: a container's anonymous volumes, unless another container uses them."""
        for name in names:
            try:
                self.remove(name, force=True)
            except ApiError as e:
                log.info("volume %s kept: %s", name, e.message)

    # -------------------------------------------------------------- restore
    def restore(self, containers: dict[str, str], running: Callable[[str], bool]) -> None:
        """Points from every container's directory; pins and mounts a crash left."""
        staging.sweep(self.stage_root)
        self.points = {cid: load(cdir) for cid, cdir in containers.items()}
        for v in self.by_name.values():
            if v.needs_mount and not any(running(u) for u in self.users(v.name)):
                try:
                    self.driver.unmount(v)
                except OSError as e:
                    log.warning("volume %s: unmount: %s", v.name, e)

    def mounts_view(self, cid: str) -> list[dict[str, Any]]:
        return [mp.view() for mp in self.points.get(cid, [])]


def check_request(host: dict[str, Any], config: dict[str, Any]) -> None:
    """create.check's part: the request's mounts parse (a 400 otherwise)."""
    try:
        plan.check(host, config)
    except MountError as e:
        raise bad_request(str(e)) from None


def _labels_match(labels: dict[str, str], wanted: list[str]) -> bool:
    for item in wanted:
        key, eq, value = item.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True
