"""Who may talk to berthd: root or a member of the daemon's group, checked per connection.

The socket's mode (0660 root:group) already keeps others out at connect(); this is
the second lock, so that a loosened socket mode does not open the daemon to everyone.
uvicorn puts no socket into the ASGI scope: protocol.py reads SO_PEERCRED when the
connection is made and hands it to the app in the scope.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import socket
import struct
import subprocess
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


@dataclass(frozen=True)
class Peer:
    pid: int
    uid: int
    gid: int


def ensure_group(name: str) -> int:
    """The gid of `name`, creating the group (as dockerd does with `docker`) if missing."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        subprocess.run(["groupadd", "--system", name], check=True, capture_output=True)
        return grp.getgrnam(name).gr_gid


def peer_of(sock: socket.socket) -> Peer:
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return Peer(pid, uid, gid)


def _groups_of(peer: Peer) -> set[int]:
    """The peer process's own group list; its passwd entry's groups if it is gone."""
    try:
        with open(f"/proc/{peer.pid}/status") as f:
            for line in f:
                if line.startswith("Groups:"):
                    return {int(g) for g in line.split()[1:]}
    except OSError:
        pass
    try:
        user = pwd.getpwuid(peer.uid)
        return set(os.getgrouplist(user.pw_name, user.pw_gid))
    except KeyError:
        return set()


def allowed(peer: Peer, gid: int) -> bool:
    return peer.uid == 0 or peer.gid == gid or gid in _groups_of(peer)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def guard(app: ASGIApp, group: str, gid: int) -> ASGIApp:
    """ASGI middleware: 403 for a peer that is neither root nor in `group`."""

    async def guarded(scope: Scope, receive: Any, send: Any) -> None:
        peer: Peer | None = scope.get("berth.peer")
        if scope["type"] != "http" or peer is None or allowed(peer, gid):
            await app(scope, receive, send)
            return
        body = json.dumps({"message": (
            f"permission denied: user {_user_name(peer.uid)!r} (uid {peer.uid}) is not root "
            f"and not a member of the group {group!r} that may use this daemon")}).encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return guarded


def listen_unix(path: str, gid: int) -> socket.socket:
    """The API socket: 0660 root:group, replacing a stale one left by a killed daemon."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    os.chown(path, 0, gid)
    os.chmod(path, 0o660)
    sock.listen(128)
    sock.setblocking(False)
    return sock
