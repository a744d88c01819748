"""The times `since` and `until` take (moby's timetypes.GetTimestamp): Unix seconds with
an optional fraction, RFC 3339 (with or without zone: then local), or a Go duration
("10m", "1h30m") counted back from now. As nanoseconds since the epoch."""

from __future__ import annotations

import time

from ..http.errors import bad_request

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
          "h": 3_600_000_000_000}


def _duration(text: str) -> int | None:
    """A Go duration in ns, or None."""
    rest, total = text, 0
    if not rest:
        return None
    while rest:
        i = 0
        while i < len(rest) and (rest[i].isdigit() or rest[i] == "."):
            i += 1
        j = i
        while j < len(rest) and not (rest[j].isdigit() or rest[j] == "."):
            j += 1
        number, unit, rest = rest[:i], rest[i:j], rest[j:]
        if not number or unit not in _UNITS:
            return None
        try:
            total += int(float(number) * _UNITS[unit])
        except ValueError:
            return None
    return total


def parse(text: str, now_ns: int | None = None) -> int:
    now_ns = time.time_ns() if now_ns is None else now_ns
    value = text.strip()
    secs, dot, frac = value.partition(".")
    if secs.lstrip("-").isdigit() and (not dot or frac.isdigit()):
        return int(secs) * 1_000_000_000 + int((frac + "000000000")[:9] if dot else 0)
    d = _duration(value)
    if d is not None:
        return now_ns - d
    try:
        from datetime import datetime

        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.astimezone()
        return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000
    except ValueError:
        raise bad_request(f"failed to parse value as time or duration: \"{text}\"") from None
