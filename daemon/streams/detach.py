"""Detach keys (docker's --detach-keys, default Ctrl-P Ctrl-Q), found in an attached stdin.

The spec is docker's term.ToBytes: comma-separated keys, each one character,
`ctrl-@`, `ctrl-a` ... `ctrl-z`, `ctrl-[`, `ctrl-\\`, `ctrl-]`, `ctrl-^`, `ctrl-_`
or `DEL`.  Bytes that could begin the sequence are held back until it is either
complete (the session detaches: the container never sees them) or broken (they go
on, in order), as docker's escape proxy does.
"""

from __future__ import annotations

DEFAULT = "ctrl-p,ctrl-q"
_CTRL = ["ctrl-@", *(f"ctrl-{chr(c)}" for c in range(ord("a"), ord("z") + 1)),
         "ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_"]


def to_bytes(spec: str) -> bytes:
    """The key sequence of a spec; ValueError("Unknown character: 'x'") as docker says it."""
    codes = bytearray()
    for key in spec.split(","):
        if len(key) == 1:
            codes += key.encode()
        elif key in _CTRL:
            codes.append(_CTRL.index(key))
        elif key == "DEL":
            codes.append(127)
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(codes)


class Escape:
    """Feed it stdin as it arrives; it answers what to pass on and whether to detach."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = 0  # how many bytes of `keys` the input has matched so far

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        if not self.keys:
            return data, False
        out = bytearray()
        for byte in data:
            if byte == self.keys[self._held]:
                self._held += 1
                if self._held == len(self.keys):
                    self._held = 0
                    return bytes(out), True
                continue
            out += self.keys[:self._held]  # a broken sequence: what was held goes on
            self._held = 0
            if byte == self.keys[0]:
                self._held = 1
            else:
                out.append(byte)
        return bytes(out), False


class Input:
    """A hijacked session's stdin on its way to a process: with a tty the detach keys are
    taken out (and set `detached`); each piece queued in order, None marking the client's
    half-close. Without `enabled` (no stdin=1 / AttachStdin) the bytes are dropped, as docker does."""

    def __init__(self, enabled: bool, tty: bool, keys: str = "") -> None:
        import asyncio

        self.enabled = enabled
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.detached = asyncio.Event()
        self._escape = Escape(to_bytes(keys or DEFAULT)) if tty else None

    def feed(self, data: bytes) -> None:
        if not self.enabled or not data or self.detached.is_set():
            return
        if self._escape is not None:
            data, detached = self._escape.feed(data)
            if detached:
                self.detached.set()
        if data:
            self.queue.put_nowait(data)

    def feed_eof(self) -> None:
        if self.enabled:
            self.queue.put_nowait(None)
