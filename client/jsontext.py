"""JSON for the CLI's requests and answers, on json's own C half (`_json`) alone.

`import json` costs more than the whole `berth ps` request: json.decoder and
json.encoder import re, which imports enum and functools. `_json`'s scanner and
string quoting do the real work of json.loads and json.dumps and load in no
time. Whatever this fast path does not take (a malformed answer, a value that is
not plain JSON, a Python without `_json`) goes to the json package itself, so
results and errors stay exactly json's.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

try:
    import _json
except ImportError:  # an interpreter without the accelerator: the json package does it all
    _json = None


class _Decoding:
    """The settings _json's scanner reads from a json.JSONDecoder: json.loads' defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


_scan = _json.make_scanner(_Decoding()) if _json else None
_WHITESPACE = " \t\n\r"  # all that JSON allows around a value


class _NotPlain(Exception):
    """A value the fast encoder leaves to json.dumps."""


def loads(raw: bytes | str) -> Any:
    """json.loads."""
    if _scan is not None:
        try:
            text = (raw.decode() if isinstance(raw, bytes) else raw).strip(_WHITESPACE)
            value, end = _scan(text, 0)
            if end == len(text):
                return value
        except Exception:  # noqa: BLE001 - malformed: json.loads below says how (the scanner cannot word
            pass           # its own errors while json.decoder is not imported)
    import json

    return json.loads(raw)


def dumps(value: Any, ensure_ascii: bool = True) -> str:
    """json.dumps with its default separators, for dicts, lists, strings, ints, bools and None."""
    if _json is not None:
        try:
            return _encode(value, _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring)
        except _NotPlain:
            pass
    import json

    return json.dumps(value, ensure_ascii=ensure_ascii)


def _encode(value: Any, quote: Any) -> str:
    if isinstance(value, str):
        return quote(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:  # not an int subclass (an IntEnum prints otherwise)
        return int.__repr__(value)
    if isinstance(value, dict):
        if not all(type(k) is str for k in value):
            raise _NotPlain
        return "{" + ", ".join(quote(k) + ": " + _encode(v, quote) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_encode(v, quote) for v in value) + "]"
    raise _NotPlain  # floats (NaN, Infinity), subclasses, anything json.dumps may refuse
