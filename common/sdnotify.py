"""sd_notify: tells systemd (Type=notify units) that a service serves, and that it stops.

berthd does as dockerd (READY=1 once its API serves, STOPPING=1 on the way out), and
berth-containerd as containerd (READY=1 once its gRPC socket serves), so that
`systemctl start berth` returns once clients can connect, and units ordered after
them start then. Without $NOTIFY_SOCKET (not started by systemd) it does nothing.
Written here rather than using libsystemd: one datagram.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("berth.notify")


def notify(state: str) -> bool:
    """Send one state line ("READY=1", "STOPPING=1") to $NOTIFY_SOCKET; True if sent."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address or address[0] not in "/@":
        return False
    if address[0] == "@":  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(address)
            s.sendall(state.encode())
    except OSError as e:
        log.warning("sd_notify %s: %s", state, e)
        return False
    return True
