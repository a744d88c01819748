"""Docker's json-file log format, written by the shim as the container prints.

One JSON object per line: {"log": "<text>\\n", "stream": "stdout", "time": "<RFC 3339 nano>"}.
Lines are split on newlines as Docker does; a line longer than 16K is written in 16K
pieces without the newline (Docker's "partial" messages), and whatever is left when
the stream ends is written as it is.  Every complete line goes to the file at once
(no userspace buffer), so output is on disk even while nobody is reading it.

With `max_size` (docker's --log-opt max-size/max-file, from the spec's annotations:
`rotation`) the file is rotated before a line would take it past max-size: <log>.N-1
becomes <log>.N, ..., <log> becomes <log>.1, and a new <log> replaces it (a link, then a
rename: the path is never missing, so a follower always finds the new file); with max_file 1
the file is emptied instead. A single line longer than max-size still goes whole.

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


ANNOTATION_MAX_SIZE = "org.berth.log.max-size"  # set by berthd (daemon/logs/drivers.py)
ANNOTATION_MAX_FILE = "org.berth.log.max-file"


def rotation(bundle: str) -> tuple[int, int]:
    """(max_size, max_file) from the bundle's spec annotations; (0, 1): no rotation."""
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            notes = json.load(f).get("annotations") or {}
        return max(0, int(notes.get(ANNOTATION_MAX_SIZE) or 0)), max(1, int(notes.get(ANNOTATION_MAX_FILE) or 1))
    except (OSError, ValueError, AttributeError):
        return 0, 1


@dataclass
class JsonLog:
    """One log file; `path` "" means the output is read and dropped."""

    path: str
    eager: bool = False  # write partial lines as they arrive (interactive processes)
    max_size: int = 0  # bytes; 0: the file grows without limit
    max_file: int = 1
    _fd: int = -1
    _size: int = 0
    _pending: dict[str, bytearray] = field(default_factory=dict)
    _pending_since: dict[str, str] = field(default_factory=dict)  # when the unwritten tail was read

    def __post_init__(self) -> None:
        if self.path:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self._open()

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._size = os.fstat(self._fd).st_size

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
        if self.max_size <= 0:
            self._write_all(memoryview(data))
            return
        view = memoryview(data)
        while view and self._fd >= 0:
            room = self.max_size - self._size
            if len(view) <= room:
                self._write_all(view)
                return
            cut = bytes(view[:max(room, 0)]).rfind(b"\n") + 1  # whole lines that still fit
            if cut == 0 and self._size == 0:  # one line longer than max-size: whole, alone
                cut = bytes(view).find(b"\n") + 1 or len(view)
            if cut:
                self._write_all(view[:cut])
                view = view[cut:]
            self._rotate()

    def _write_all(self, view: memoryview) -> None:
        while view and self._fd >= 0:
            n = os.write(self._fd, view)
            self._size += n
            view = view[n:]

    def _rotate(self) -> None:
        if self.max_file <= 1:
            os.ftruncate(self._fd, 0)
            self._size = 0
            return
        for i in range(self.max_file - 1, 1, -1):
            try:
                os.rename(f"{self.path}.{i - 1}", f"{self.path}.{i}")
            except FileNotFoundError:
                pass
        # The path never goes missing (a follower looking for the new file finds it): the old
        # file gets its second name first, then a new file replaces it in one rename.
        try:
            os.unlink(f"{self.path}.1")  # still there only with max_file 2
        except FileNotFoundError:
            pass
        os.link(self.path, f"{self.path}.1")
        tmp = f"{self.path}.new"
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640))
        os.rename(tmp, self.path)
        os.close(self._fd)
        self._open()


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
