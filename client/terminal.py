"""The local terminal while attached with -t: raw mode, and the size the container should have.

With a tty the container's own pty does the line editing, echo and signal keys, so
ours must pass every keystroke through untouched (raw mode) — and must be given back
as it was whatever happens, or the user's shell is left unusable.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

NOT_A_TTY = "the input device is not a TTY"  # docker's words, client side (CheckTty)


def stdin_is_tty() -> bool:
    try:
        return os.isatty(sys.stdin.fileno())
    except (OSError, ValueError):
        return False


def size() -> tuple[int, int] | None:
    """(rows, columns) of our stdout, as docker's CLI measures it; None when unknown."""
    for stream in (sys.stdout, sys.stdin):
        try:
            cols, rows = os.get_terminal_size(stream.fileno())
        except (OSError, ValueError):
            continue
        if rows and cols:
            return rows, cols
    return None


@contextmanager
def raw(enabled: bool) -> Iterator[None]:
    """Put stdin's terminal in raw mode for the block, restoring its exact settings after."""
    if not enabled:
        yield
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
