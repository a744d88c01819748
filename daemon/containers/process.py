"""A container's process as docker composes it: the command from Entrypoint and Cmd
(the container's over the image's), and signals by name or number."""

from __future__ import annotations

import signal as _signal
from typing import Any

from ..http.errors import bad_request


def parse_signal(value: str | int | None, default: int = _signal.SIGKILL) -> int:
    if value in (None, ""):
        return default
    text = str(value).upper()
    if text.isdigit():
        num = int(text)
        if 0 < num < 65:
            return num
    else:
        try:
            return int(_signal.Signals[text if text.startswith("SIG") else "SIG" + text])
        except KeyError:
            pass
    raise bad_request(f"Invalid signal: {value}")


def command(config: dict[str, Any], image_cfg: dict[str, Any]) -> tuple[str, list[str]]:
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


def start_error(message: str, argv0: str) -> tuple[int, int]:
    """moby translateContainerdStartErr: (http status, exit code) of a failed start."""
    low = message.lower()
    if argv0.lower() in low and ("executable file not found" in low or "no such file or directory" in low):
        return 400, 127
    if "permission denied" in low:
        return 400, 126
    return 500, 128
