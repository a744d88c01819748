"""What a create request becomes before anything exists: dockerd's refusals, then the
container's Config and HostConfig filled in from the image (service.py makes the rest).

New create-time settings (mounts, restart policies, health checks, log drivers) validate
in `check` and fill in `fill`, each by a call into their own package, so that nothing a
request sets is stored unread."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..http.errors import ApiError, bad_request
from ..libcontainerd import ContainerdError
from .fieldnames import HOST_CONFIG
from ..security import userns
from ..volumes.service import check_request as check_mounts
from . import hostfields, lifecycle, namespaces, resources, spec
from .process import command, parse_signal

if TYPE_CHECKING:
    from .service import Engine
    from .store import Store

log = logging.getLogger("berthd.engine")


@dataclass
class Request:
    """The body taken apart: HostConfig and NetworkingConfig are not part of Config."""
    body: dict[str, Any]  # Config
    host: dict[str, Any]
    networking: dict[str, Any] | None
    image_ref: str
    runtime_name: str
    runtime: str  # the binary (or the in-process runtime's name)


@dataclass
class Filled:
    config: dict[str, Any]
    path: str
    args: list[str]


def check(body: dict[str, Any], config: Config, store: Store) -> Request:
    """dockerd's refusals of the request alone (400s), before the image is even looked up."""
    host = lifecycle.host_config(body, HOST_CONFIG.names)  # HostConfig fields at the top level too
    networking = body.pop("NetworkingConfig", None)
    image_ref = body.get("Image") or ""
    if not image_ref:
        raise bad_request("Config cannot be empty in order to create a container")
    workdir = body.get("WorkingDir") or ""
    if workdir and not workdir.startswith("/"):
        raise bad_request(f"the working directory '{workdir}' is invalid, it needs to be an absolute path")
    runtime_name = host.get("Runtime") or config.default_runtime
    try:
        runtime = config.runtime_binary(runtime_name)
    except KeyError:
        raise bad_request(f"unknown or invalid runtime name: {runtime_name}") from None
    try:
        resources.validate(host)  # dockerd's refusals, before anything is made
        namespaces.check(body, host)  # PidMode, IpcMode, ShmSize, UTSMode, CgroupnsMode
        hostfields.check(body, host)  # the fields berth answers as dockerd on Linux does (refused or discarded)
        lifecycle.check(body, host, config)  # restart policy, health check, log driver, init, groups
        userns.check(host, config.security.remap, runtime)  # --userns-remap's refusals (privileged, host namespaces)
    except ValueError as e:
        raise bad_request(str(e)) from None
    check_mounts(host, body)  # Binds, Mounts, Tmpfs, VolumesFrom, Volumes: daemon/volumes/
    namespaces.fill(host, lambda ref: _existing(store, ref))
    hostfields.fill(host)
    return Request(body=body, host=host, networking=networking, image_ref=image_ref,
                   runtime_name=runtime_name, runtime=runtime)


def _existing(store: Store, ref: str) -> str | None:
    try:
        return store.get(ref).id
    except ApiError:
        return None


def fill(cid: str, req: Request, image_cfg: dict[str, Any]) -> Filled:
    """Config as dockerd stores it: the image's defaults under the request's settings."""
    config = dict(req.body)
    config["Hostname"] = config.get("Hostname") or cid[:12]
    config["Env"] = spec.merge_env(image_cfg.get("Env") or [], config.get("Env") or [])
    for key, default in (("WorkingDir", ""), ("User", "")):
        config[key] = config.get(key) or image_cfg.get(key) or default
    if image_cfg.get("Labels"):
        config["Labels"] = {**image_cfg["Labels"], **(config.get("Labels") or {})}
    config.setdefault("StopSignal", image_cfg.get("StopSignal"))
    parse_signal(config["StopSignal"])  # refused now, or the container could never be stopped
    path, args = command(config, image_cfg)
    lifecycle.fill(config, req.host, image_cfg)  # health check, LogConfig, RestartPolicy
    req.host["Runtime"] = req.runtime_name
    return Filled(config=config, path=path, args=args)


def oci_spec(engine: Engine, cid: str, cdir: str, filled: Filled, host: dict[str, Any]) -> dict[str, Any]:
    """The new container's OCI spec: spec.py's, with the volumes', the networks' and the
    lifecycle's parts; ValueError (a setting the runtime cannot honour) is a 400."""
    from ..network import prepare as netprep

    config = engine.config
    try:
        oci = spec.build(cid=cid, path=filled.path, args=filled.args, config=filled.config, host=host,
                         container_dir=cdir, cgroup_parent=config.cgroup_parent, security=config.security,
                         mount_points=engine.volumes.points_of(cid), stage_root=engine.volumes.stage_root)
        namespaces.adjust_spec(oci, filled.config, host, namespaces.pin_dir(config, cid))  # --pid, --ipc, --uts, --cgroupns
        hostfields.adjust_spec(oci, host)  # annotations, masked paths, Block IO devices
        netprep.adjust_spec(engine.networks, oci, cid,
                            lambda other: engine.store.get(other).config.get("Env") or [])
        lifecycle.adjust_spec(oci, host, config)  # --init, --group-add, log rotation
        userns.adjust_spec(oci, host, config.security.remap)  # --userns-remap: the user namespace
        userns.own_container_dir(cdir, host, config.security.remap)
    except ValueError as e:
        raise bad_request(str(e)) from None
    return oci


async def undo(engine: Engine, cid: str) -> None:
    """A create that got no answer from berth-containerd: it may have made the container."""
    try:
        await engine.ctrd.delete_container(cid)
    except ContainerdError as e:
        if not e.not_found:
            log.warning("container %s: undoing a create that got no answer: %s (the next reconcile "
                        "removes it)", cid, e.message)
