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


def open_attach(client: Client, cid: str, stdin: bool) -> Stream:
    """POST /containers/{id}/attach, hijacked: the connection is the container's stream."""
    query = {"stream": "1", "stdout": "1", "stderr": "1"}
    if stdin:
        query["stdin"] = "1"
    return client.stream("POST", f"/containers/{cid}/attach", query,
                         headers={"Connection": "Upgrade", "Upgrade": "tcp"})


def _copy_stdin(sock: _socket.socket) -> None:
    """Our stdin to the container, then a half-close: EOF travels as docker's CLI sends it."""
    try:
        while data := os.read(sys.stdin.fileno(), 65536):
            sock.sendall(data)
        sock.shutdown(_socket.SHUT_WR)
    except OSError:
        pass  # the container is gone and the daemon hung up: nothing left to feed


def start_stdin(stream: Stream) -> None:
    """Copy stdin in the background: a daemon thread, since a read of a terminal cannot be
    interrupted and must not keep us alive once the container has exited."""
    import threading  # only with -i: `run` without it does not pay for the import

    threading.Thread(target=_copy_stdin, args=(stream.resp.sock,), name="stdin", daemon=True).start()


def resize(client: Client, cid: str) -> None:
    """Tell the container our window size (docker's resizeTty); a failure is not worth a word."""
    dims = terminal.size()
    if dims is None:
        return
    try:
        client.post(f"/containers/{cid}/resize", {"h": dims[0], "w": dims[1]})
    except (DaemonError, ConnectError):
        pass


class FollowWindow:
    """For a `with` block: send the size now and again on every SIGWINCH."""

    def __init__(self, client: Client, cid: str) -> None:
        self.client = client
        self.cid = cid
        self._previous: object = None

    def __enter__(self) -> None:
        self._previous = _signal.signal(_signal.SIGWINCH, lambda *_: resize(self.client, self.cid))
        try:
            resize(self.client, self.cid)
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        _signal.signal(_signal.SIGWINCH, self._previous)


def copy_output(stream: Stream, tty: bool) -> None:
    """The container's output to our stdout/stderr until it ends; raw with a tty."""
    streams.copy(stream, streams.write_stream, not tty)
