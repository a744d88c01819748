"""The attached side of `run`, `start -a`: the container's output to ours, our stdin to it.

Docker's CLI does this over one hijacked connection (`Upgrade: tcp`): after the 101
the socket carries the container's output one way and our stdin the other.  When our
stdin ends we half-close the socket (the daemon then closes a StdinOnce container's
stdin); the output goes on until the container is done.  With a tty the output is
the pty's raw bytes, not stdcopy frames, and the container's window follows ours.
"""

from __future__ import annotations

import _signal  # signal's C core: the signal module imports enum to name its constants
import _socket
import os
import sys

from berth.client import streams, terminal
from berth.client.api import Client, ConnectError, DaemonError, Stream


def open_attach(client: Client, cid: str, stdin: bool, keys: str = "") -> Stream:
    """POST /containers/{id}/attach, hijacked: the connection is the container's stream."""
    query = {"stream": "1", "stdout": "1", "stderr": "1"}
    if stdin:
        query["stdin"] = "1"
    if keys:
        query["detachKeys"] = keys
    return client.stream("POST", f"/containers/{cid}/attach", query,
                         headers={"Connection": "Upgrade", "Upgrade": "tcp"})


DEFAULT_KEYS = b"\x10\x11"  # ctrl-p,ctrl-q


def detach_keys(spec: str) -> bytes:
    """docker's --detach-keys (term.ToBytes): `ctrl-x`, a character or DEL, comma-separated;
    ValueError for anything else (the daemon then refuses it in docker's words)."""
    out = bytearray()
    ctrl = "@abcdefghijklmnopqrstuvwxyz[\\]^_"
    for key in spec.split(","):
        if len(key) == 1:
            out += key.encode()
        elif key.startswith("ctrl-") and len(key) == 6 and key[5] in ctrl:
            out.append(ctrl.index(key[5]))
        elif key == "DEL":
            out.append(127)
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(out)


class StdinCopy:
    """Our stdin to the container, then a half-close: EOF travels as docker's CLI sends it.

    With `keys` (a tty session) the detach sequence is looked for as docker's CLI does:
    held back while it may be starting, and once complete the connection is shut, which
    ends the output copy; `detached` tells the caller why it ended.
    """

    def __init__(self, stream: Stream, keys: bytes | None = None) -> None:
        self.sock: _socket.socket = stream.resp.sock
        self.keys = keys
        self.detached = False

    def _copy(self) -> None:
        held = 0
        keys = self.keys
        try:
            while data := os.read(sys.stdin.fileno(), 65536):
                if keys:
                    out = bytearray()
                    for byte in data:
                        if byte == keys[held]:
                            held += 1
                            if held == len(keys):
                                if out:
                                    self.sock.sendall(out)
                                self.detached = True
                                self.sock.shutdown(_socket.SHUT_RDWR)
                                return
                            continue
                        out += keys[:held]
                        held = 0
                        if byte == keys[0]:
                            held = 1
                        else:
                            out.append(byte)
                    data = bytes(out)
                if data:
                    self.sock.sendall(data)
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass  # the container is gone and the daemon hung up: nothing left to feed

    def start(self) -> StdinCopy:
        """Copy in the background: a daemon thread, since a read of a terminal cannot be
        interrupted and must not keep us alive once the container has exited."""
        import threading  # only with -i: `run` without it does not pay for the import

        threading.Thread(target=self._copy, name="stdin", daemon=True).start()
        return self


def start_stdin(stream: Stream, keys: bytes | None = None) -> StdinCopy:
    return StdinCopy(stream, keys).start()


def resize(client: Client, cid: str, path: str = "") -> None:
    """Tell the container (or an exec: `path`) our window size (docker's resizeTty); a
    failure is not worth a word."""
    dims = terminal.size()
    if dims is None:
        return
    try:
        client.post(path or f"/containers/{cid}/resize", {"h": dims[0], "w": dims[1]})
    except (DaemonError, ConnectError):
        pass


class FollowWindow:
    """For a `with` block: send the size now and again on every SIGWINCH."""

    def __init__(self, client: Client, cid: str, path: str = "") -> None:
        self.client = client
        self.cid = cid
        self.path = path  # /exec/{id}/resize for an exec's terminal
        self._previous: object = None

    def __enter__(self) -> None:
        self._previous = _signal.signal(_signal.SIGWINCH, lambda *_: resize(self.client, self.cid, self.path))
        try:
            resize(self.client, self.cid, self.path)
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        _signal.signal(_signal.SIGWINCH, self._previous)


def copy_output(stream: Stream, tty: bool) -> None:
    """The container's output to our stdout/stderr until it ends; raw with a tty."""
    streams.copy(stream, streams.write_stream, not tty)
