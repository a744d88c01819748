"""Docker's multiplexed stdout/stderr stream (stdcopy), taken apart.

Without a terminal the daemon sends a container's output as frames: one byte
naming the stream (1 stdout, 2 stderr), three zero bytes, a big-endian 32-bit
length, then the payload. The CLI must put each payload back on the stream it
came from, so `berth run` and `berth logs` keep stdout and stderr apart.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

STDOUT = 1
STDERR = 2
_HEADER = 8


def looks_multiplexed(first: bytes) -> bool:
    """Guess from the first bytes when the daemon did not label the stream's type."""
    return len(first) >= 4 and first[0] in (0, 1, 2, 3) and first[1:4] == b"\0\0\0"


class Demuxer:
    """Feed it bytes as they arrive; it calls `write(stream, payload)` per whole frame."""

    def __init__(self, write: Callable[[int, bytes], None]) -> None:
        self._write = write
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data
        while len(self._buf) >= _HEADER:
            size = int.from_bytes(self._buf[4:8], "big")
            if len(self._buf) < _HEADER + size:
                return
            stream = self._buf[0]
            payload = bytes(self._buf[_HEADER:_HEADER + size])
            del self._buf[:_HEADER + size]
            if stream == 3:  # the daemon's own error, in-band (systemerr)
                raise StreamError(payload.decode(errors="replace"))
            self._write(STDERR if stream == STDERR else STDOUT, payload)

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame (a stream cut short leaves some)."""
        return len(self._buf)


class StreamError(Exception):
    """The daemon reported an error inside the stream itself."""


def copy(chunks: Iterable[bytes], write: Callable[[int, bytes], None], multiplexed: bool | None) -> None:
    """Send a body's bytes to stdout/stderr; demultiplex it unless it is a raw (tty) stream.

    `multiplexed=None` means "look at the first bytes": daemons before API 1.42
    label a multiplexed attach stream as raw, so the label cannot be trusted.
    """
    demux: Demuxer | None = None
    head = b""
    for data in chunks:
        if multiplexed is None:
            head += data
            if len(head) < 4:
                continue
            multiplexed, data = looks_multiplexed(head), head
        if multiplexed:
            if demux is None:
                demux = Demuxer(write)
            demux.feed(data)
        else:
            write(STDOUT, data)
    if multiplexed is None and head:
        write(STDOUT, head)


def write_stream(stream: int, data: bytes) -> None:
    """Put a container's bytes on our own stdout or stderr, as they come."""
    out = sys.stderr if stream == STDERR else sys.stdout
    out.buffer.write(data)
    out.buffer.flush()


def multiplexed_from(content_type: str) -> bool | None:
    """What the Content-Type says for sure: only the multiplexed label is trustworthy."""
    return True if "multiplexed-stream" in content_type else None
