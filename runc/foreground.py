"""`run` and `exec` in the foreground: wait for the process, forward signals, proxy a pty.

With process.terminal and no --console-socket, runc holds the pty master itself
and copies between it and its own stdio (its terminal in raw mode, see Console);
we do the same with a private abstract-namespace socket to receive the master on.
"""

from __future__ import annotations

import os
import select
import signal

from berth.runc import record as st

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any, Callable

FORWARD = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGCONT")


class Console:
    """A one-shot console socket server and, once received, the pty master.

    As runc's tty.go: the host side is the first of stderr, stdout, stdin that is a
    terminal, else the controlling terminal (/dev/tty); without one, `run` fails before
    anything is made. The received master loses ONLCR, so that the container's "\n"
    reaches our stdout as "\n" (a terminal there still shows it as a new line: it is
    set raw with output processing kept, as containerd/console's SetRaw does).
    """

    def __init__(self) -> None:
        import socket

        self.host, self.host_opened = _host_console()
        self.saved: list | None = None  # the host terminal's settings, restored by close()
        self.address = f"\0berth-runc-console-{os.getpid()}-{os.urandom(4).hex()}"
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.server.bind(self.address)
        self.server.listen(1)
        self.master = -1

    def receive(self) -> None:
        import termios

        from berth.runc.console import recv_master

        conn, _ = self.server.accept()
        try:
            self.master = recv_master(conn)
        finally:
            conn.close()
            self.server.close()
        attrs = termios.tcgetattr(self.master)
        attrs[1] &= ~termios.ONLCR
        termios.tcsetattr(self.master, termios.TCSANOW, attrs)
        self.saved = termios.tcgetattr(self.host)
        termios.tcsetattr(self.host, termios.TCSANOW, _raw(self.saved))
        _copy_size(self.host, self.master)

    def close(self) -> None:
        self.server.close()
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
        if self.saved is not None:
            import termios

            try:
                termios.tcsetattr(self.host, termios.TCSANOW, self.saved)
            except termios.error:
                pass  # the terminal went away
            self.saved = None
        if self.host_opened:
            os.close(self.host)
            self.host_opened = False


def _host_console() -> tuple[int, bool]:
    """(fd of our terminal, whether we opened it): stderr, stdout, stdin, else /dev/tty."""
    for fd in (2, 1, 0):
        if os.isatty(fd):
            return fd, False
    try:
        return os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC), True
    except OSError as e:
        from berth.runc.errors import RuncError

        raise RuncError(f"open /dev/tty: {(e.strerror or str(e)).lower()}") from None


def _raw(attrs: list) -> list:
    """containerd/console's SetRaw: cfmakeraw, but output processing stays on (OPOST)."""
    import termios

    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = attrs
    iflag &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP | termios.INLCR
               | termios.IGNCR | termios.ICRNL | termios.IXON)
    lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    cflag = (cflag & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
    cc = list(cc)
    cc[termios.VMIN], cc[termios.VTIME] = 1, 0
    return [iflag, oflag | termios.OPOST, cflag, lflag, ispeed, ospeed, cc]


def _copy_size(src: int, dst: int) -> None:
    import fcntl
    import termios

    try:
        fcntl.ioctl(dst, termios.TIOCSWINSZ, fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        pass


def _proxy(console: Console, pid: int) -> int | None:
    """Copy stdin -> master and master -> stdout until the pty closes; the status if reaped."""
    stdin_open = True
    try:
        while True:
            fds = [console.master] + ([0] if stdin_open else [])
            try:
                ready, _, _ = select.select(fds, [], [], 0.1)
            except InterruptedError:
                continue
            if console.master in ready:
                try:
                    data = os.read(console.master, 65536)
                except OSError:  # EIO: every slave fd is closed, the process is done with it
                    data = b""
                if not data:
                    return None
                try:
                    os.write(1, data)
                except OSError:  # our own terminal went away: keep draining, the process decides
                    pass
            if 0 in ready:
                try:
                    data = os.read(0, 65536)
                except OSError:
                    data = b""
                if data:
                    os.write(console.master, data)
                else:
                    stdin_open = False
            if not ready:
                wpid, status = os.waitpid(pid, os.WNOHANG)
                if wpid == pid:
                    return status
    finally:
        console.close()


def wait(root: str, container_id: str, pid: int, console: Console | None = None, *, keep: bool = False) -> int:
    """Wait for the container's init, then delete it; its exit status, 128+signal if killed."""
    from berth.runc import lifecycle

    try:
        return wait_process(pid, console, not_ours=lambda: _poll_exit(root, container_id))
    finally:
        if not keep:
            lifecycle.delete(root, container_id, force=True)  # whatever happened to us, clean up


def _poll_exit(root: str, container_id: str) -> int:
    """A process that is not our child has no status for us; report 0 once it ends."""
    import time

    rec = st.load(root, container_id)
    while st.init_alive(rec):
        time.sleep(0.01)
    return -1


def wait_process(pid: int, console: Console | None = None,
                 not_ours: Callable[[], int] | None = None) -> int:
    """Forward signals (and terminal resizes) to `pid` until it exits; its exit status.

    `not_ours` gives a wait status when `pid` turns out not to be our child (-1: unknown).
    """

    def forward(signum: int, _frame: Any) -> None:
        if signum == signal.SIGWINCH and console is not None and console.master >= 0:
            _copy_size(console.host, console.master)
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    old = {s: signal.signal(getattr(signal, s), forward) for s in FORWARD}
    try:
        status = _proxy(console, pid) if console is not None else None
        while status is None:
            try:
                wpid, wstatus = os.waitpid(-1, 0)
            except ChildProcessError:
                if not_ours is None:
                    raise
                status = not_ours()
                break
            if wpid == pid:
                status = wstatus
    finally:
        for s, h in old.items():
            signal.signal(getattr(signal, s), h)
    code = os.waitstatus_to_exitcode(status) if status >= 0 else 0
    from berth.runc.debug import debug

    debug("process exited", pid=pid, status=code)  # runc's words
    return 128 - code if code < 0 else code
