"""Docker's json-file log format, written by the shim as the container prints.

One JSON object per line: {"log": "<text>\\n", "stream": "stdout", "time": "<RFC 3339 nano>"}.
Lines are split on newlines as Docker does; a line longer than 16K is written in 16K
pieces without the newline (Docker's "partial" messages), and whatever is left when
the stream ends is written as it is.  Every complete line goes to the file at once
(no userspace buffer), so output is on disk even while nobody is reading it.

An interactive process (a terminal, or an open stdin) is `eager`: whatever it prints
is written at once, unterminated lines too (as Docker's partial messages), because
attach reads this file and a shell's prompt ("/ # ") has no newline to wait for.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from berth.common.timefmt import rfc3339_nano

MAX_LINE = 16 * 1024  # Docker's log copier buffer: longer lines are split into partials

# Go's encoding/json escapes these (HTML-safe output); Docker's files have them so.
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def encode_entry(data: bytes, stream: str, time: str) -> bytes:
    text = json.dumps(data.decode("utf-8", errors="replace"), ensure_ascii=False)
    if any(c in text for c in _GO_ESCAPES):
        text = "".join(_GO_ESCAPES.get(c, c) for c in text)
    return f'{{"log":{text},"stream":"{stream}","time":"{time}"}}\n'.encode()


@dataclass
class JsonLog:
    """One log file; `path` "" means the output is read and dropped."""

    path: str
    eager: bool = False  # write partial lines as they arrive (interactive processes)
    _fd: int = -1
    _pending: dict[str, bytearray] = field(default_factory=dict)
    _pending_since: dict[str, str] = field(default_factory=dict)  # when the unwritten tail was read

    def __post_init__(self) -> None:
        if self.path:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def feed(self, stream: str, data: bytes) -> None:
        """Add output read from `stream`; write every complete line now."""
        buf = self._pending.setdefault(stream, bytearray())
        buf += data
        now = rfc3339_nano()
        out = bytearray()
        while True:
            nl = buf.find(b"\n")
            if nl < 0 or nl >= MAX_LINE:
                if len(buf) < MAX_LINE:
                    break
                out += encode_entry(bytes(buf[:MAX_LINE]), stream, now)
                del buf[:MAX_LINE]
                continue
            out += encode_entry(bytes(buf[:nl + 1]), stream, now)
            del buf[:nl + 1]
        if self.eager and buf:
            cut = _whole_utf8(buf)
            if cut:
                out += encode_entry(bytes(buf[:cut]), stream, now)
                del buf[:cut]
        self._write(out)
        if buf:
            self._pending_since.setdefault(stream, now)
        else:
            self._pending_since.pop(stream, None)

    def flush(self, stream: str) -> None:
        """The stream ended: write its unterminated tail as it is."""
        buf = self._pending.pop(stream, None)
        since = self._pending_since.pop(stream, None)
        if buf:
            self._write(encode_entry(bytes(buf), stream, since or rfc3339_nano()))

    def close(self) -> None:
        for stream in list(self._pending):
            self.flush(stream)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _write(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view and self._fd >= 0:
            view = view[os.write(self._fd, view):]


def _whole_utf8(buf: bytearray) -> int:
    """How much of `buf` to write now: all but a UTF-8 character cut off at its end."""
    for back in range(1, min(4, len(buf)) + 1):
        byte = buf[-back]
        if byte < 0x80:
            return len(buf)
        if byte >= 0xC0:  # a lead byte: is its character complete?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(buf) if back >= need else len(buf) - back
    return len(buf)
