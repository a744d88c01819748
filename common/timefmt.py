"""Timestamps the way Docker and containerd print them (RFC 3339, nanoseconds, UTC)."""

from __future__ import annotations

import time

ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, which Docker prints for "never"


def rfc3339_nano(ns: int | None = None) -> str:
    """Format a time.time_ns() value as 2006-01-02T15:04:05.999999999Z."""
    if ns is None:
        ns = time.time_ns()
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def parse_rfc3339_nano(text: str) -> int:
    """Inverse of rfc3339_nano (accepts fewer fraction digits and a missing fraction)."""
    import calendar

    text = text.rstrip("Z")
    base, _, frac = text.partition(".")
    secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return secs * 1_000_000_000 + int((frac + "000000000")[:9])
