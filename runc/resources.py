"""`update`'s flags (or -r FILE) as an OCI linux.resources object."""

from __future__ import annotations

import json
import sys

from berth.runc.errors import RuncError

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def parse_size(text: str) -> int:
    """go-units' RAMInBytes, as runc's update uses it: 512, 64k, 1.5m, 2gb, 3 MiB; -1 is unlimited."""
    if text == "-1":
        return -1
    import re  # only update pays for it

    match = re.fullmatch(r"(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?", text)
    if match is None:
        raise RuncError(f"invalid size: '{text}'")
    try:
        number = float(match.group(1))
    except ValueError:  # "1.2.3": the pattern takes it, ParseFloat does not
        raise RuncError(f'strconv.ParseFloat: parsing "{match.group(1)}": invalid syntax') from None
    return int(number * _UNITS[(match.group(2) or "").lower()])


def _go_int(name: str, text: str, signed: bool) -> int:
    """strconv.ParseInt/ParseUint (base 10, 64 bits) with runc's `invalid value for NAME: ...`."""
    func = "ParseInt" if signed else "ParseUint"
    digits = text[1:] if signed and text[:1] in ("+", "-") else text
    if not digits or not (digits.isascii() and digits.isdigit()):
        raise RuncError(f'invalid value for {name}: strconv.{func}: parsing "{text}": invalid syntax')
    value = int(text)
    low, high = (-(1 << 63), (1 << 63) - 1) if signed else (0, (1 << 64) - 1)
    if not low <= value <= high:
        raise RuncError(f'invalid value for {name}: strconv.{func}: parsing "{text}": value out of range')
    return value


def from_flags(args: Any) -> dict[str, Any]:
    if args.resources:
        src = sys.stdin if args.resources == "-" else open(args.resources)
        try:
            return json.load(src)
        except ValueError as e:
            raise RuncError(f"invalid resources JSON: {e}") from None
        finally:
            if src is not sys.stdin:
                src.close()
    res: dict[str, Any] = {}
    cpu: dict[str, Any] = {}
    mem: dict[str, Any] = {}
    for flag, key, signed in (("cpu_share", "shares", False), ("cpu_quota", "quota", True),
                              ("cpu_period", "period", False), ("cpu_rt_period", "realtimePeriod", False),
                              ("cpu_rt_runtime", "realtimeRuntime", True)):
        value = getattr(args, flag)
        if value:
            cpu[key] = _go_int(flag.replace("_", "-"), value, signed)
    if args.cpuset_cpus:
        cpu["cpus"] = args.cpuset_cpus
    if args.cpuset_mems:
        cpu["mems"] = args.cpuset_mems
    for flag, key in (("memory", "limit"), ("memory_reservation", "reservation"), ("memory_swap", "swap"),
                      ("kernel_memory", "kernel"), ("kernel_memory_tcp", "kernelTCP")):
        value = getattr(args, flag)
        if value:
            try:
                mem[key] = parse_size(value)
            except RuncError as e:
                raise RuncError(f"invalid value for {flag.replace('_', '-')}: {e}") from None
    if cpu:
        res["cpu"] = cpu
    if mem:
        res["memory"] = mem
    if args.pids_limit is not None:
        res["pids"] = {"limit": int(args.pids_limit)}
    if args.blkio_weight is not None:
        res["blockIO"] = {"weight": int(args.blkio_weight)}
    return res
