"""The container's terminal: a pty made inside it, the master sent out over a socket.

As runc does, the master travels over --console-socket with SCM_RIGHTS (one fd,
a short payload naming it) and the slave becomes the process's stdio and
controlling terminal.
"""

from __future__ import annotations

import array
import fcntl
import os
import socket
import struct
import termios

TIOCSPTLCK = 0x40045431
TIOCGPTN = 0x80045430
TIOCSCTTY = 0x540E


def open_pty() -> tuple[int, str]:
    """(master fd, slave path) from /dev/ptmx of the current mount namespace."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    n = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0\0\0\0"))[0]
    return master, f"/dev/pts/{n}"


def set_size(fd: int, size: dict | None) -> None:
    if size:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size.get("height", 0), size.get("width", 0), 0, 0))


def send_master(sock: socket.socket, master: int, name: str) -> None:
    sock.sendmsg([name.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [master]))])


def connect(path: str) -> socket.socket:
    """The --console-socket connection, or runc's error when nobody listens there."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        from berth.runc.errors import RuncError

        raise RuncError(f"dial unix {path}: connect: {(e.strerror or '').lower()}") from None
    return s


def become_tty(slave_path: str) -> None:
    """Make the slave stdin/out/err and the controlling terminal (we are a session leader)."""
    fd = os.open(slave_path, os.O_RDWR)
    for i in range(3):
        os.dup2(fd, i)
    fcntl.ioctl(0, TIOCSCTTY, 0)
    if fd > 2:
        os.close(fd)


def recv_master(sock: socket.socket) -> int:
    """The other side (a console-socket server, e.g. the shim or a test)."""
    fds = array.array("i")
    msg, anc, _, _ = sock.recvmsg(4096, socket.CMSG_LEN(fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if not fds:
        raise OSError("no fd received on the console socket")
    return fds[0]
