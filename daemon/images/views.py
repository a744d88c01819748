"""Images as the API shows them: inspect JSON and list entries."""

from __future__ import annotations

from typing import Any

from berth.common.timefmt import ZERO_TIME, parse_rfc3339_nano

from ..libcontainerd import Image


def repo_tags(image: Image) -> list[str]:
    return [n for n in image.names if "@" not in n]


def repo_digests(image: Image) -> list[str]:
    """Names that pin a digest (an image pulled by digest) are docker's RepoDigests."""
    return [n for n in image.names if "@" in n]


def _container_config(cfg: dict[str, Any]) -> dict[str, Any]:
    c = cfg.get("config") or {}
    extra = {k: c[k] for k in ("Healthcheck", "Shell", "ArgsEscaped") if c.get(k)}  # omitempty, as docker's
    return {**extra,
        "Hostname": "", "Domainname": "", "User": c.get("User", ""), "AttachStdin": False,
        "AttachStdout": False, "AttachStderr": False, "ExposedPorts": c.get("ExposedPorts"),
        "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": c.get("Env"),
        "Cmd": c.get("Cmd"), "Image": "", "Volumes": c.get("Volumes"),
        "WorkingDir": c.get("WorkingDir", ""), "Entrypoint": c.get("Entrypoint"),
        "OnBuild": c.get("OnBuild"), "Labels": c.get("Labels"), "StopSignal": c.get("StopSignal"),
    }


def inspect_json(image: Image) -> dict[str, Any]:
    cfg = image.config
    return {
        "Id": image.id,
        "RepoTags": repo_tags(image),
        "RepoDigests": repo_digests(image),
        "Parent": image.parent,
        "Comment": cfg.get("comment", ""),
        "Created": image.created or cfg.get("created") or ZERO_TIME,
        "DockerVersion": "",
        "Author": cfg.get("author", ""),
        "Config": _container_config(cfg),
        "Architecture": cfg.get("architecture", "amd64"),
        "Os": cfg.get("os", "linux"),
        "Size": image.size,
        "GraphDriver": {"Name": "overlayfs", "Data": None},
        "RootFS": {"Type": "layers", "Layers": list(image.layers)},
        "Metadata": {"LastTagTime": ZERO_TIME},
    }


def summary_json(image: Image) -> dict[str, Any]:
    cfg = image.config
    created = image.created or cfg.get("created") or ""
    try:
        created_unix = parse_rfc3339_nano(created) // 1_000_000_000 if created else 0
    except ValueError:
        created_unix = 0
    return {
        "Containers": -1,
        "Created": created_unix,
        "Id": image.id,
        "Labels": (cfg.get("config") or {}).get("Labels") or {},
        "ParentId": image.parent,
        "RepoDigests": repo_digests(image),
        "RepoTags": repo_tags(image),
        "SharedSize": -1,
        "Size": image.size,
    }
