"""The command a container runs: docker's merge of the request's Entrypoint and Cmd with the image's."""

from __future__ import annotations

from typing import Any

from ..http.errors import bad_request


def merge(config: dict[str, Any], image_cfg: dict[str, Any]) -> tuple[str, list[str]]:
    """docker's merge: the image's Cmd is used only when neither Entrypoint nor Cmd is given."""
    entry = config.get("Entrypoint")
    cmd = config.get("Cmd")
    if isinstance(entry, str):
        entry = [entry]
    if isinstance(cmd, str):
        cmd = ["/bin/sh", "-c", cmd]
    if not entry:
        if not cmd:
            cmd = image_cfg.get("Cmd")
        if entry is None:
            entry = image_cfg.get("Entrypoint")
    argv = [a for a in (entry or []) if a != ""] + list(cmd or [])
    config["Entrypoint"], config["Cmd"] = entry or None, cmd or None
    if not argv:
        raise bad_request("no command specified")
    return argv[0], argv[1:]
