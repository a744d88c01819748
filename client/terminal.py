"""The local terminal while attached with -t: raw mode, and the size the container should have.

With a tty the container's own pty does the line editing, echo and signal keys, so
ours must pass every keystroke through untouched (raw mode) — and must be given back
as it was whatever happens, or the user's shell is left unusable.
"""

from __future__ import annotations

import os
import sys

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


class Raw:
    """Stdin's terminal in raw mode for a `with` block, its exact settings restored after.

    A class rather than contextlib.contextmanager, whose import costs more than a run.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._saved: list | None = None

    def __enter__(self) -> None:
        if not self.enabled:
            return
        import termios
        import tty

        fd = sys.stdin.fileno()
        self._saved = termios.tcgetattr(fd)
        try:
            tty.setraw(fd, termios.TCSANOW)
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None
