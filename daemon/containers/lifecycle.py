"""Create-time settings for the rest of a container's life, checked and filled as dockerd
does, and what they add to the OCI spec: RestartPolicy (restart.py), Healthcheck
(daemon/health/), LogConfig (daemon/logs/), Init, GroupAdd, StopTimeout; and the
HostConfig fields old clients send at the top level of the create body.

Init is dockerd's: the init binary (Debian's tini-static, what Debian's docker-init is)
bind-mounted read-only at /sbin/docker-init and run as PID 1 with `--` and the command.
GroupAdd names are resolved by berth-containerd against the container's /etc/group (the
only hop that reads the container's files), from the spec's annotation GROUP_ADD.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from ..config import Config
from ..health import config as health
from ..logs import drivers
from . import restart

INIT_TARGET = "/sbin/docker-init"  # moby's inits.DefaultInitBinary destination
INIT_CANDIDATES = ("/usr/bin/tini-static", "/usr/bin/docker-init", "/usr/bin/tini")
GROUP_ADD = "org.berth.group-add"  # JSON list of names or numbers (containerd/containers/users.py)


def check(body: dict[str, Any], host: dict[str, Any], config: Config) -> None:
    """dockerd's refusals (ValueError, its words), before the image is looked up."""
    restart.validate(host)
    health.check(body.get("Healthcheck"))
    drivers.check(host)
    groups = host.get("GroupAdd")
    if groups is not None and (not isinstance(groups, list) or not all(isinstance(g, str) for g in groups)):
        raise ValueError("invalid GroupAdd: must be a list of strings")
    if host.get("Init") is not None and not isinstance(host.get("Init"), bool):
        raise ValueError("invalid Init: must be a boolean")
    if _wants_init(host, config) and not init_binary(config):
        raise ValueError("docker-init binary not found: install Debian's tini, or give berthd --init-path")


def fill(config: dict[str, Any], host: dict[str, Any], image_cfg: dict[str, Any]) -> None:
    """As dockerd stores them: the image's health check under the container's, the log
    driver named, "no" for an empty restart policy (dockerd >= 25)."""
    merged = health.merge(config.get("Healthcheck"), image_cfg.get("Healthcheck"))
    if merged is not None:
        config["Healthcheck"] = merged
    drivers.fill(host)
    policy = host.get("RestartPolicy") or {}
    host["RestartPolicy"] = {"Name": policy.get("Name") or "no",
                             "MaximumRetryCount": int(policy.get("MaximumRetryCount") or 0)}


def adjust_spec(oci: dict[str, Any], host: dict[str, Any], config: Config) -> None:
    """The init, the groups to add and the log's rotation, into the spec berthd sends."""
    if _wants_init(host, config):
        process = oci["process"]
        process["args"] = [INIT_TARGET, "--", *process["args"]]
        oci["mounts"].append({"destination": INIT_TARGET, "type": "bind", "source": init_binary(config),
                              "options": ["bind", "ro"]})
    if host.get("GroupAdd"):
        oci.setdefault("annotations", {})[GROUP_ADD] = json.dumps(list(host["GroupAdd"]))
    drivers.annotate(oci, host)


def _wants_init(host: dict[str, Any], config: Config) -> bool:
    init = host.get("Init")
    return bool(config.init) if init is None else bool(init)


def init_binary(config: Config) -> str:
    """--init-path, else the first of Debian's tini binaries there is (static first: it runs in
    any image)."""
    if config.init_path:
        return config.init_path if os.path.exists(config.init_path) else shutil.which(config.init_path) or ""
    return next((p for p in INIT_CANDIDATES if os.path.exists(p)), "")


# HostConfig's field names: a create body that has them at its top level (API < 1.21 clients,
# the docker SDK's `runtime=`) means them as HostConfig (moby's ContainerConfigWrapper).
_FILLED_FROM_TOP = ("Memory", "MemorySwap", "CpuShares", "CpusetCpus", "VolumeDriver")


def host_config(body: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """HostConfig from the body: the top-level HostConfig fields (taken out of Config) are the
    HostConfig when it is absent; when both are there, HostConfig wins, except for the few
    fields moby's getHostConfig fills in from the top level when HostConfig leaves them unset."""
    inner = body.pop("HostConfig", None)
    top = {k: body.pop(k) for k in list(body) if k in names}
    cpuset = body.pop("Cpuset", None)
    if inner is None:
        host = top
    else:
        host = dict(inner)
        for key in _FILLED_FROM_TOP:
            if top.get(key) and not host.get(key):
                host[key] = top[key]
    if cpuset and not host.get("CpusetCpus"):
        host["CpusetCpus"] = cpuset
    return host
