"""The docker CLI's value types for resource flags: sizes (go-units RAMInBytes), swap
sizes ("-1" too), decimal CPUs (NanoCPUs) and ulimits, each failing with its words.

Plain string work, no `re`: run and create import this on every call.
"""

from __future__ import annotations

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
ULIMITS = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
           "rss", "rtprio", "rttime", "sigpending", "stack")


def ram_in_bytes(text: str) -> int:
    """go-units RAMInBytes: `^(\\d+(\\.\\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$`, binary units."""
    s = text
    if s[-1:] in ("b", "B"):
        s = s[:-1]
    if s[-1:] in ("i", "I"):
        s = s[:-1]
    unit = ""
    if s[-1:].lower() in ("k", "m", "g", "t", "p"):
        unit, s = s[-1].lower(), s[:-1]
    if s.endswith(" "):
        s = s[:-1]
    parts = s.split(".")
    if not s or not all(p.isdigit() and p.isascii() for p in parts):
        raise ValueError(f"invalid size: '{text}'")
    number = float(".".join(parts[:2]))
    return int(number * _UNITS[unit])


def convert(kind: str, text: str) -> object:
    """The value of a flag of `kind` (bytes, swap, decimal, ulimit); ValueError says why not."""
    if kind == "bytes":
        return ram_in_bytes(text)
    if kind == "swap":
        return -1 if text == "-1" else ram_in_bytes(text)
    if kind == "decimal":
        return nano_cpus(text)
    if kind == "ulimit":
        return ulimit(text)
    if kind == "duration":
        return duration(text)
    raise ValueError(f"unknown flag kind {kind}")


def nano_cpus(text: str) -> int:
    """--cpus as billionths of a CPU (docker's NanoCPUs, a big.Rat): 0.5 -> 500000000."""
    from fractions import Fraction

    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"failed to parse {text} as a rational number") from None
    nano = value * 1_000_000_000
    if nano.denominator != 1:
        raise ValueError("value is too precise")
    return int(nano)


def ulimit(text: str) -> dict:
    """go-units ParseUlimit: NAME=SOFT[:HARD] as HostConfig.Ulimits' {Name, Hard, Soft}."""
    name, eq, values = text.partition("=")
    if not eq:
        raise ValueError(f"invalid ulimit argument: {text}")
    if name not in ULIMITS:
        raise ValueError(f"invalid ulimit type: {name}")
    soft_text, colon, hard_text = values.partition(":")
    soft = _go_int(soft_text)
    hard = _go_int(hard_text) if colon else soft
    if soft > hard:
        raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return {"Name": name, "Hard": hard, "Soft": soft}


def _go_int(text: str) -> int:
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body.isdigit() or not body.isascii():
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    return int(text)


_DURATION_UNITS = {"ns": 1, "us": 1000, "\u00b5s": 1000, "\u03bcs": 1000, "ms": 1_000_000, "s": 1_000_000_000,
                   "m": 60_000_000_000, "h": 3_600_000_000_000}


def duration(text: str) -> int:
    """Go's time.ParseDuration ("1m30s", "500ms", "1.5h") as nanoseconds, with its errors."""
    s, sign = text, 1
    if s[:1] in ("+", "-"):
        sign, s = (-1 if s[0] == "-" else 1), s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0
    while s:
        i = 0
        while i < len(s) and (s[i].isdigit() or s[i] == "."):
            i += 1
        number, s = s[:i], s[i:]
        if not number or number == "." or number.count(".") > 1:
            raise ValueError(f'time: invalid duration "{text}"')
        j = 0
        while j < len(s) and not (s[j].isdigit() or s[j] == "."):
            j += 1
        unit, s = s[:j], s[j:]
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        if unit not in _DURATION_UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        whole, _, frac = number.partition(".")
        scale = _DURATION_UNITS[unit]
        total += int(whole or "0") * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
    return sign * total
