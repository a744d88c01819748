"""Config.Healthcheck as dockerd takes it: refused as moby's validateHealthCheck refuses
it, merged with the image's as moby's merge does, and turned into the probe's argv."""

from __future__ import annotations

from typing import Any

MIN_DURATION = 1_000_000  # ns: moby's container.MinimumDuration, 1ms
DEFAULT_INTERVAL = 30.0  # seconds, moby's defaults
DEFAULT_TIMEOUT = 30.0
DEFAULT_START_INTERVAL = 5.0
DEFAULT_RETRIES = 3
_DURATIONS = ("Interval", "Timeout", "StartPeriod", "StartInterval")


def check(hc: Any) -> None:
    """ValueError with dockerd's words."""
    if hc is None:
        return
    if not isinstance(hc, dict):
        raise ValueError("invalid Healthcheck: must be an object")
    test = hc.get("Test")
    if test is not None and (not isinstance(test, list) or not all(isinstance(t, str) for t in test)):
        raise ValueError("invalid Healthcheck: Test must be a list of strings")
    for key in _DURATIONS:
        value = hc.get(key) or 0
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"invalid Healthcheck: {key} must be an integer (nanoseconds)")
        if value != 0 and value < MIN_DURATION:
            raise ValueError(f"{key} in Healthcheck cannot be less than 1ms")
    retries = hc.get("Retries") or 0
    if not isinstance(retries, int) or isinstance(retries, bool):
        raise ValueError("invalid Healthcheck: Retries must be an integer")
    if retries < 0:
        raise ValueError("Retries in Healthcheck cannot be negative")


def merge(user: dict[str, Any] | None, image: dict[str, Any] | None) -> dict[str, Any] | None:
    """moby's merge (daemon/commit.go): the container's settings over the image's."""
    if not image:
        return user
    if user is None:
        return dict(image)
    out = dict(user)
    if not out.get("Test"):
        out["Test"] = image.get("Test")
    for key in (*_DURATIONS, "Retries"):
        if not out.get(key):
            out[key] = image.get(key) or 0
    return out


def probe_argv(config: dict[str, Any]) -> list[str] | None:
    """The probe's command, or None when there is no check (none set, NONE, unknown type)."""
    hc = config.get("Healthcheck") or {}
    test = hc.get("Test") or []
    if not test:
        return None
    if test[0] == "CMD" and len(test) > 1:
        return list(test[1:])
    if test[0] == "CMD-SHELL" and len(test) > 1:
        return [*(config.get("Shell") or ["/bin/sh", "-c"]), *test[1:]]
    return None


def seconds(hc: dict[str, Any], key: str, default: float) -> float:
    value = hc.get(key) or 0
    return value / 1e9 if value else default


def retries(hc: dict[str, Any]) -> int:
    value = hc.get("Retries") or 0
    return value if value > 0 else DEFAULT_RETRIES
