"""Socket activation (`berthd -H fd://`), as dockerd's: the API sockets systemd opened.

systemd (berth.socket, or `systemd-socket-activate`) binds /run/berth.sock itself,
with the mode and group its unit says, and hands the listening socket to berthd
as fd 3 (sd_listen_fds: LISTEN_PID is ours, LISTEN_FDS counts fds from 3,
LISTEN_FDNAMES names them). The socket then exists before berthd does, so clients
may connect while it starts, and it outlives a restart of berthd.

`fd://` takes every socket passed; `fd://N` the one at fd N (dockerd's form);
`fd://NAME` the one so named (FileDescriptorName=, default: the socket unit's name).
Only unix stream sockets are taken: berthd serves TCP only behind verified TLS
(`-H tcp://... --tlsverify`), and an inherited TCP socket would have neither.
The peer-credential check and the audit log apply to these connections as to
berthd's own socket: they read SO_PEERCRED from each accepted connection.
"""

from __future__ import annotations

import os
import socket
import stat

_FIRST_FD = 3  # SD_LISTEN_FDS_START


class ActivationError(ValueError):
    pass


def _passed() -> list[tuple[int, str]]:
    """(fd, name) for each socket systemd passed to this process, and the variables
    unset so that the processes berthd starts (berth-containerd) do not see them."""
    pid, count = os.environ.pop("LISTEN_PID", ""), os.environ.pop("LISTEN_FDS", "")
    names = os.environ.pop("LISTEN_FDNAMES", "").split(":")
    if not pid.isdigit() or int(pid) != os.getpid() or not count.isdigit():
        return []
    fds = range(_FIRST_FD, _FIRST_FD + int(count))
    return [(fd, names[i] if i < len(names) and names[i] else "unknown") for i, fd in enumerate(fds)]


def _pick(passed: list[tuple[int, str]], address: str) -> list[tuple[int, str]]:
    if address in ("", "*"):
        return passed
    if address.isdigit():  # dockerd's fd://N
        offset = int(address) - _FIRST_FD
        if offset < 0 or offset >= len(passed):
            raise ActivationError("too few socket activated files passed in by systemd")
        return [passed[offset]]
    named = [p for p in passed if p[1] == address]
    if not named:
        raise ActivationError(f"no socket named {address!r} passed in by systemd "
                              f"(passed: {', '.join(name for _, name in passed)})")
    return named


def _socket(fd: int) -> socket.socket:
    if not stat.S_ISSOCK(os.fstat(fd).st_mode):
        raise ActivationError(f"failed to listen on systemd activated file: fd {fd}")
    sock = socket.socket(fileno=fd)
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise ActivationError(f"fd {fd}: not a unix stream socket (berthd serves tcp:// only with "
                              "--tlsverify, on a socket of its own)")
    os.set_inheritable(fd, False)  # not into berth-containerd, shims or containers
    sock.setblocking(False)
    return sock


def listeners(addresses: list[str]) -> list[socket.socket]:
    """The sockets the fd:// hosts name ("" for plain fd://), each once."""
    if not addresses:
        return []
    passed = _passed()
    if not passed:
        raise ActivationError("no sockets found via socket activation: make sure the service was started by systemd")
    chosen: dict[int, str] = {}
    for address in addresses:
        chosen.update(_pick(passed, address))
    return [_socket(fd) for fd in sorted(chosen)]


def path_of(sock: socket.socket) -> str:
    """Where an inherited socket listens ('' for an abstract or unnamed one): for the log."""
    name = sock.getsockname()
    return name if isinstance(name, str) else ""
