"""Containers as the API shows them: inspect JSON, list entries, docker's Status text."""

from __future__ import annotations

import os
import time
from typing import Any

from berth.common.humanize import human_duration
from berth.common.timefmt import ZERO_TIME, parse_rfc3339_nano

from ..config import Config
from ..health import monitor as health
from .store import Container, Store


def _ago(ts: str) -> float:
    return time.time() - parse_rfc3339_nano(ts) / 1e9


def status_text(c: Container) -> str:
    st = c.state
    if st.status == "running":
        return "Up " + human_duration(_ago(st.started_at)) + (" (Paused)" if st.paused else health.status_suffix(c))
    if st.status == "restarting":
        return f"Restarting ({st.exit_code}) {human_duration(_ago(st.finished_at))} ago"
    if st.status == "removing":
        return "Removal In Progress"
    if st.status == "dead":
        return "Dead"
    if st.status == "exited" and st.finished_at != ZERO_TIME:
        return f"Exited ({st.exit_code}) {human_duration(_ago(st.finished_at))} ago"
    return "Created"


def status_name(c: Container) -> str:
    """docker's State.Status: "paused" is a running container's, frozen."""
    return "paused" if c.state.running and c.state.paused else c.state.status


def command_text(c: Container) -> str:
    """Docker's COMMAND column: arguments with a space in them are single-quoted."""
    args = [f"'{a}'" if " " in a else a for a in c.args]
    return " ".join([c.path, *args]).strip()


def graph_driver(config: Config, cid: str) -> dict[str, Any]:
    """GraphDriver as dockerd's overlay2 shows it, where the dirs are known (berthd started
    berth-containerd, so its root and state are berthd's): the container's upper, work and
    merged dirs (the lower ones are berth-containerd's, and not shown)."""
    if config.containerd is not None:
        return {"Name": "overlayfs", "Data": None}
    active = os.path.join(config.containerd_root, "snapshots", "active", cid)
    return {"Name": "overlayfs", "Data": {
        "MergedDir": os.path.join(config.containerd_state, "tasks", cid, "rootfs"),
        "UpperDir": os.path.join(active, "fs"), "WorkDir": os.path.join(active, "work")}}


def inspect(c: Container, store: Store, image_ref: str) -> dict[str, Any]:
    st = c.state
    d = store.dir_of(c.id)
    return {
        "Id": c.id,
        "Created": c.created,
        "Path": c.path,
        "Args": c.args,
        "State": {
            "Status": status_name(c), "Running": st.running or st.status == "restarting",
            "Paused": st.running and st.paused, "Restarting": st.status == "restarting",
            "OOMKilled": st.oom_killed, "Dead": st.status == "dead", "Pid": st.pid if st.running else 0,
            "ExitCode": st.exit_code, "Error": st.error,
            "StartedAt": st.started_at, "FinishedAt": st.finished_at,
            **({"Health": health.inspect(c)} if c.health is not None else {}),
        },
        "Image": c.image,
        "ResolvConfPath": f"{d}/resolv.conf",
        "HostnamePath": f"{d}/hostname",
        "HostsPath": f"{d}/hosts",
        "LogPath": store.log_path(c.id),
        "Name": c.name,
        "RestartCount": c.restart_count,
        "Driver": "overlayfs",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": c.host_config,
        "GraphDriver": {"Name": "overlayfs", "Data": None},
        "Mounts": [],
        "Config": {**c.config, "Image": image_ref},
        "NetworkSettings": {
            "Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {},
            "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": "",
            "Networks": {},
        },
    }


def summary(c: Container) -> dict[str, Any]:
    return {
        "Id": c.id,
        "Names": [c.name],
        "Image": c.config.get("Image", ""),
        "ImageID": c.image,
        "Command": command_text(c),
        "Created": parse_rfc3339_nano(c.created) // 1_000_000_000,
        "Ports": [],
        "Labels": c.config.get("Labels") or {},
        "State": status_name(c),
        "Status": status_text(c),
        "HostConfig": {"NetworkMode": c.host_config.get("NetworkMode") or "none"},
        "NetworkSettings": {"Networks": {}},
        "Mounts": [],
    }
