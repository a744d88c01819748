"""A chunked request body decoded by berthd itself, a whole read at a time.

The docker CLI sends `docker cp`'s tar (and build contexts, image loads) with
Transfer-Encoding: chunked, in chunks of 32 KiB. h11 turns each chunk into an event that
uvicorn then handles in Python: that machinery, not the data, was most of berthd's CPU
on the way in (~0.2 s per 100 MB). This decoder finds the chunk boundaries with
bytes.find and hands on everything a read holds in a few slices. protocol.py gives it
the body once h11 has parsed the request's head, and gives h11 a bare last chunk
("0\\r\\n\\r\\n") when the body ends, so h11's own view of the connection (keep-alive, the
next request) stays exact.

A body spliced from the socket (rawbody.py) uses the same state: `feed` decodes the
framing between two chunks' data, `left` is how much of a chunk the kernel may move on
its own, `took` counts what it moved.
"""

from __future__ import annotations

_MAX_LINE = 4096  # a chunk-size line or a trailer line longer than this is refused
_HEX = frozenset(b"0123456789abcdefABCDEF")


class ChunkError(ValueError):
    """The body is not valid chunked encoding (a 400)."""


class ChunkedBody:
    def __init__(self) -> None:
        self._left = 0  # data bytes left in the current chunk
        self._crlf = 0  # bytes of the CRLF after a chunk's data still to skip
        self._trailer = False  # after the last chunk: trailer lines until an empty one
        self._line = b""  # a size or trailer line split across reads
        self.done = False

    @property
    def left(self) -> int:
        """Data bytes of the current chunk not yet seen (0: framing comes next)."""
        return self._left

    def took(self, n: int) -> None:
        """`n` of the current chunk's data bytes went by without this decoder (spliced)."""
        self._left -= n
        if not self._left:
            self._crlf = 2

    def feed(self, data: bytes) -> tuple[list[memoryview], bytes]:
        """The body's bytes in `data` (views of it), and what follows the body once it is done."""
        view = memoryview(data)
        out: list[memoryview] = []
        pos, end = 0, len(data)
        while pos < end and not self.done:
            if self._left:
                n = min(self._left, end - pos)
                out.append(view[pos:pos + n])
                pos += n
                self.took(n)
            else:
                pos = self._frame(data, pos)
        return out, data[pos:] if self.done else b""

    def _frame(self, data: bytes, pos: int) -> int:
        """The framing at data[pos:] up to the end of one line (or of `data`): where it ends."""
        if self._crlf:
            expect = b"\r\n"[2 - self._crlf:]
            got = data[pos:pos + len(expect)]
            if not expect.startswith(got):
                raise ChunkError("chunk data not followed by CRLF")
            self._crlf -= len(got)
            return pos + len(got)
        nl = data.find(b"\n", pos)
        if nl < 0:
            self._line += data[pos:]
            if len(self._line) > _MAX_LINE:
                raise ChunkError("chunk header too long")
            return len(data)
        line, self._line = self._line + data[pos:nl + 1], b""
        self._header(line)
        return nl + 1

    def _header(self, line: bytes) -> None:
        if len(line) > _MAX_LINE or not line.endswith(b"\r\n"):
            raise ChunkError("malformed chunk header")
        text = line[:-2]
        if self._trailer:
            if not text:
                self.done = True
            return
        size = text.split(b";", 1)[0].strip(b" \t")
        if not size or not _HEX.issuperset(size) or len(size) > 16:
            raise ChunkError("malformed chunk size")
        self._left = int(size, 16)
        if not self._left:
            self._trailer = True
