"""The create-time conversation between the runtime and the container init.

One JSON object per line over a pair of pipes (os.pipe is free to set up; the
socket module costs milliseconds of import). Reads buffer up to the newline.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any


class Channel:
    """One end of the sync pipes; `recv` returns None at EOF (the peer died or exec'd)."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self._buf = b""

    def send(self, kind: str, **fields: Any) -> None:
        data = memoryview(json.dumps({"type": kind, **fields}).encode() + b"\n")
        try:
            while data:
                data = data[os.write(self.wfd, data):]
        except BrokenPipeError:
            pass  # the peer is gone; the next recv() reports its last words or EOF

    def recv(self) -> dict[str, Any] | None:
        while b"\n" not in self._buf:
            chunk = os.read(self.rfd, 65536)
            if not chunk:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def expect(self, kind: str) -> dict[str, Any]:
        msg = self.recv()
        if msg is None:
            os._exit(1)  # the runtime went away: nothing left to do for us
        if msg.get("type") != kind:
            raise RuntimeError(f"sync: expected {kind}, got {msg.get('type')}")
        return msg

    @property
    def closed(self) -> bool:
        return self.wfd < 0

    def close(self) -> None:
        """Close both ends, once: their numbers are free for reuse afterwards, so forget them."""
        for fd in (self.rfd, self.wfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.rfd = self.wfd = -1


def channel_pair() -> tuple[Channel, Channel]:
    """(parent end, child end); all four fds are close-on-exec."""
    p_r, c_w = os.pipe()
    c_r, p_w = os.pipe()
    return Channel(p_r, p_w), Channel(c_r, c_w)
