"""run/create's flags for the rest of a container's life: --restart, --health-*, --init,
--stop-signal, --stop-timeout, --group-add, --label-file, --log-driver, --log-opt; as
the docker CLI turns them into Config and HostConfig fields (cli/command/container/opts.go).

Loaded only when one of them is given: run and create stay light otherwise.
"""

from __future__ import annotations

from berth.client.flags import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FLAGS = ("restart", "health_cmd", "health_interval", "health_timeout", "health_retries", "health_start_period",
         "health_start_interval", "no_healthcheck", "init", "stop_signal", "stop_timeout", "group_add",
         "label_file", "log_driver", "log_opt")
_DURATIONS = (("health_interval", "Interval"), ("health_timeout", "Timeout"),
              ("health_start_period", "StartPeriod"), ("health_start_interval", "StartInterval"))


def given(opts: dict[str, Any]) -> bool:
    return any(opts.get(k) not in (None, "", []) for k in FLAGS)


def restart_policy(text: str) -> dict[str, Any]:
    """docker's opts.ParseRestartPolicy: only the format; the daemon judges the rest."""
    name, colon, count = text.partition(":")
    if colon and not name:
        raise ValueError("invalid restart policy format: no policy provided before colon")
    try:
        retries = int(count) if count else 0
    except ValueError:
        raise ValueError("invalid restart policy format: maximum retry count must be an integer") from None
    return {"Name": name, "MaximumRetryCount": retries}


def _healthcheck(o: dict[str, Any]) -> dict[str, Any] | None:
    have = bool(o.get("health_cmd")) or bool(o.get("health_retries")) or any(o.get(k) for k, _ in _DURATIONS)
    if o.get("no_healthcheck"):
        if have:
            raise UsageError("--no-healthcheck conflicts with --health-* options", 125)
        return {"Test": ["NONE"]}
    if not have:
        return None
    out: dict[str, Any] = {"Test": ["CMD-SHELL", o["health_cmd"]] if o.get("health_cmd") else None}
    for dest, field in _DURATIONS:
        value = o.get(dest) or 0
        if value < 0:
            raise UsageError(f"--{dest.replace('_', '-')} cannot be negative", 125)
        out[field] = value
    retries = o.get("health_retries") or 0
    if retries < 0:
        raise UsageError("--health-retries cannot be negative", 125)
    out["Retries"] = retries
    return out


def label_file_labels(paths: list[str]) -> dict[str, str]:
    """docker's ReadKVStrings: one label a line; blank lines and # comments skipped."""
    labels: dict[str, str] = {}
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise UsageError(f"open {path}: {(e.strerror or str(e)).lower()}", 125) from None
        for line in lines:
            line = line.lstrip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition("=")
            labels[key] = value
    return labels


def apply(o: dict[str, Any], config: dict[str, Any]) -> None:
    """Set the fields on the create body (HostConfig is already there)."""
    host = config["HostConfig"]
    if o.get("restart"):
        try:
            host["RestartPolicy"] = restart_policy(o["restart"])
        except ValueError as e:
            raise UsageError(str(e), 125) from None
        if host.get("AutoRemove") and host["RestartPolicy"]["Name"] not in ("", "no"):
            raise UsageError("conflicting options: cannot specify both --restart and --rm", 125)
    health = _healthcheck(o)
    if health is not None:
        config["Healthcheck"] = health
    if o.get("init") is not None:
        host["Init"] = bool(o["init"])
    if o.get("stop_signal"):
        config["StopSignal"] = o["stop_signal"]
    if o.get("stop_timeout") is not None:
        config["StopTimeout"] = o["stop_timeout"]
    if o.get("group_add"):
        host["GroupAdd"] = list(o["group_add"])
    if o.get("label_file"):
        config["Labels"] = {**label_file_labels(o["label_file"]), **(config.get("Labels") or {})}
    if o.get("log_driver") or o.get("log_opt"):
        driver = o.get("log_driver") or ""
        opts: dict[str, str] = {}
        for item in o.get("log_opt") or []:
            key, _, value = item.partition("=")
            opts[key] = value
        if driver == "none" and opts:
            raise UsageError("invalid logging opts for driver none", 125)
        host["LogConfig"] = {"Type": driver, "Config": opts}
