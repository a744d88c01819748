"""HostConfig.LogConfig as dockerd takes it: json-file (the default), local, none; any other
driver refused with dockerd's words, as are options the driver does not know.

berth writes every driver's log in docker's json-file format, in the file the shim
appends to (<data-root>/containers/<id>/<id>-json.log); `local` differs only in its
defaults (dockerd's: 20 MB x 5 files). The shim rotates it: when the next line would
take the file past max-size, <log>.N-1 becomes <log>.N ... <log> becomes <log>.1 and a
new <log> starts (with max-file 1, the file is emptied instead); berthd's `logs`
reads the rotated files oldest first (rotated.py). `none` keeps no history: `logs`
answers dockerd's error; the shim still writes a file of at most 1 MB, which is
what attach streams from.

The shim learns the limits from the spec's annotations (ANNOTATION_MAX_SIZE/_MAX_FILE):
the spec is in its bundle, and nothing else needs to carry them.
"""

from __future__ import annotations

from typing import Any

ANNOTATION_MAX_SIZE = "org.berth.log.max-size"
ANNOTATION_MAX_FILE = "org.berth.log.max-file"

DRIVERS = ("json-file", "local", "none")
_OPTS = {"json-file": ("max-size", "max-file", "compress"), "local": ("max-size", "max-file", "compress")}
_DEFAULTS = {"json-file": (0, 1), "local": (20 * 1024 * 1024, 5), "none": (1024 * 1024, 1)}
_DECIMAL = {"": 1, "k": 1000, "m": 1000 ** 2, "g": 1000 ** 3, "t": 1000 ** 4, "p": 1000 ** 5}
NOT_READABLE = "configured logging driver does not support reading"


def from_human_size(text: str) -> int:
    """go-units FromHumanSize: decimal units, "10m" is 10 000 000 bytes; ValueError if not one."""
    s = text.strip().lower()
    for suffix in ("ib", "b", "i"):
        if s.endswith(suffix) and s[:-len(suffix)][-1:].isalpha():
            s = s[:-len(suffix)]
            break
    if s.endswith("b") and not s[:-1][-1:].isalpha():
        s = s[:-1]
    unit = s[-1:] if s[-1:].isalpha() else ""
    number = s[:-1] if unit else s
    try:
        value = float(number.strip())
    except ValueError:
        raise ValueError(f"invalid size: '{text}'") from None
    if unit not in _DECIMAL or value < 0:
        raise ValueError(f"invalid size: '{text}'")
    return int(value * _DECIMAL[unit])


def check(host: dict[str, Any]) -> None:
    """dockerd's refusals (ValueError, its words), plus the options berth does not have."""
    lc = host.get("LogConfig") or {}
    if not isinstance(lc, dict):
        raise ValueError("invalid LogConfig: must be an object")
    driver = lc.get("Type") or "json-file"
    opts = lc.get("Config") or {}
    if driver not in DRIVERS:
        raise ValueError(f"logger: no log driver named '{driver}' is registered")
    if not isinstance(opts, dict) or not all(isinstance(v, str) for v in opts.values()):
        raise ValueError("invalid LogConfig: Config must map strings to strings")
    if driver == "none":
        if opts:
            raise ValueError("invalid logging opts for driver none")
        return
    for key in opts:
        if key not in _OPTS[driver]:
            if driver == "json-file":
                raise ValueError(f"unknown log opt '{key}' for json-file log driver")
            raise ValueError(f"unknown log opt '{key}' for log driver {driver}")
    limits(driver, opts)
    if opts.get("compress", "false").lower() not in ("false", "0"):
        raise ValueError("berth does not compress rotated log files: compress=true is not supported")


def limits(driver: str, opts: dict[str, str]) -> tuple[int, int]:
    """(max-size in bytes, 0 for none; max-file) with the driver's defaults."""
    size, files = _DEFAULTS.get(driver, (0, 1))
    if "max-size" in opts:
        try:
            size = from_human_size(opts["max-size"])
        except ValueError as e:
            raise ValueError(str(e)) from None
        if size <= 0:
            raise ValueError("max-size must be a positive number")
    if "max-file" in opts:
        try:
            files = int(opts["max-file"])
        except ValueError:
            raise ValueError(f'strconv.Atoi: parsing "{opts["max-file"]}": invalid syntax') from None
        if files < 1:
            raise ValueError("max-file cannot be less than 1")
    return size, files


def fill(host: dict[str, Any]) -> None:
    """LogConfig as dockerd stores it: the driver named, the options as given."""
    lc = host.get("LogConfig") or {}
    host["LogConfig"] = {"Type": lc.get("Type") or "json-file", "Config": dict(lc.get("Config") or {})}


def annotate(oci: dict[str, Any], host: dict[str, Any]) -> None:
    """The rotation the shim applies, in the spec's annotations."""
    lc = host.get("LogConfig") or {}
    driver = lc.get("Type") or "json-file"
    size, files = limits(driver, lc.get("Config") or {})
    if size > 0:
        notes = oci.setdefault("annotations", {})
        notes[ANNOTATION_MAX_SIZE] = str(size)
        notes[ANNOTATION_MAX_FILE] = str(files)


def readable(host: dict[str, Any]) -> bool:
    return ((host.get("LogConfig") or {}).get("Type") or "json-file") != "none"


def rotates(host: dict[str, Any]) -> bool:
    """Whether the shim rotates this container's log (then followers watch for the new file)."""
    lc = host.get("LogConfig") or {}
    try:
        return limits(lc.get("Type") or "json-file", lc.get("Config") or {})[0] > 0
    except ValueError:
        return False


def max_file(host: dict[str, Any]) -> int:
    lc = host.get("LogConfig") or {}
    try:
        return limits(lc.get("Type") or "json-file", lc.get("Config") or {})[1]
    except ValueError:
        return 1
