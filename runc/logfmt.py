"""runc's log lines (logrus): text or JSON, to --log or stderr; with --debug, debug lines and callers.

Its own module so that cli.py stays small; it imports nothing until a line is written.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any


class Log:
    """runc's logrus output: `time=... level=error msg="..."` (or JSON), to --log or stderr.

    With --debug, as logrus with ReportCaller, each line also names where it came from
    (func=, file=), and debug lines are written too.
    """

    def __init__(self) -> None:
        self.path: str | None = None
        self.fmt = "text"
        self.debugging = False

    def debug(self, msg: str, fields: dict[str, Any]) -> None:
        self._emit("debug", msg, fields, caller=3)

    def warning(self, msg: str) -> None:
        self._emit("warning", msg)

    def error(self, msg: str) -> None:
        if self._emit("error", msg):
            sys.stderr.write(msg + "\n")  # runc also prints the bare error when logging to a file
        sys.stderr.flush()

    def _emit(self, level: str, msg: str, fields: dict[str, Any] | None = None, caller: int = 2) -> bool:
        """Write the log line to --log, or to stderr without one; True when it went to --log."""
        fields = dict(fields or {})
        if self.debugging:
            frame = sys._getframe(caller)
            module = frame.f_globals.get("__name__", "")
            name = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
            fields.setdefault("func", f"{module}.{name}()")
            fields.setdefault("file", f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}")
        line = self._format(level, msg, fields)
        if not self.path:
            sys.stderr.write(line)
            return False
        try:
            with open(self.path, "a") as f:
                f.write(line)
        except OSError:
            pass
        return True

    def _format(self, level: str, msg: str, fields: dict[str, Any]) -> str:
        import json
        import time

        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if self.fmt == "json":
            entry = dict(sorted({**fields, "level": level, "msg": msg, "time": now}.items()))  # Go sorts map keys
            text = json.dumps(entry, separators=(",", ":"))
            return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"
        extra = "".join(f" {k}={_logfmt(v)}" for k, v in sorted(fields.items(), key=_field_order))
        return f'time="{now}" level={level} msg={json.dumps(msg)}{extra}\n'


def _field_order(item: tuple[str, Any]) -> tuple[int, str]:
    """logrus's text order: its own func and file first, then the fields by name."""
    return ({"func": 0, "file": 1}.get(item[0], 2), item[0])


def _logfmt(value: Any) -> str:
    """A field value as logrus's text formatter writes it: bare when plain, else quoted."""
    import json

    text = str(value)
    if text and all(c.isalnum() or c in "-._/@^+" for c in text):
        return text
    return json.dumps(text)
