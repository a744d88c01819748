"""A real terminal for a CLI under test: a pty of a chosen size, keystrokes in, screen out.

The command runs as the session leader of a fresh pty (its controlling terminal), so
it sees what a user's shell would give it: isatty(0), a window size, SIGWINCH.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time
from dataclasses import dataclass, field


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


@dataclass
class Terminal:
    """One command on one pty; `screen` is everything it has written so far."""

    argv: list[str]
    env: dict[str, str]
    rows: int = 30
    cols: int = 100
    screen: bytearray = field(default_factory=bytearray)
    proc: subprocess.Popen | None = None
    master: int = -1

    def __enter__(self) -> "Terminal":
        self.master, slave = os.openpty()
        set_size(slave, self.rows, self.cols)
        try:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdin=slave, stdout=slave, stderr=slave,
                                         start_new_session=True, preexec_fn=_take_controlling_tty)
        finally:
            os.close(slave)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # our own child, by its Popen handle
            self.proc.wait()
        os.close(self.master)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def resize(self, rows: int, cols: int) -> None:
        """What a terminal emulator does when its window changes: new size, SIGWINCH."""
        set_size(self.master, rows, cols)
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGWINCH)

    def _pump(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the command has exited and closed the terminal
            return False
        self.screen += data
        return bool(data)

    def expect(self, text: str, timeout: float = 20.0) -> bool:
        """Read until `text` appears on the screen (True) or time runs out (False)."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.screen and time.monotonic() < deadline:
            if not self._pump(0.1):
                break
        return text.encode() in self.screen

    def wait(self, timeout: float = 30.0) -> int:
        """The command's exit status, reading its last output meanwhile."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._pump(0.1)
        while self._pump(0.05) and select.select([self.master], [], [], 0)[0]:
            pass
        return self.proc.wait(timeout=1)

    @property
    def text(self) -> str:
        return self.screen.decode(errors="replace")


def _take_controlling_tty() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
