"""Deleting a link (a stopped container's veth, a removed network's bridge) and going on
as soon as the host no longer has it, not when the kernel has finished with it.

The kernel takes a link out of its namespace's list (and tells RTNLGRP_LINK's listeners,
RTM_DELLINK) 5-12 ms into the request; the request itself returns 15-25 ms later, after
rcu_barrier() and the device's last references, with the RTNL lock already let go. Nothing
of the link is to be seen on the host after the notice (no name, no index: a new link may
take the name), so the caller goes on then, and the request ends in a thread of its own.
If the notice cannot be heard (the listener's buffer overran), the caller waits for the
request, as before."""

from __future__ import annotations

import errno
import logging
import os
import select
import socket
import struct
from collections.abc import Callable
from concurrent.futures import Executor, Future

log = logging.getLogger("berthd.network")

_RTMGRP_LINK = 1
_AF_UNSPEC = 0
_RTM_DELLINK = 17
_HEADER = struct.Struct("=IHHII")  # nlmsghdr
_IFINDEX = struct.Struct("=i")  # ifinfomsg's ifi_index, 4 bytes into it


def _listener() -> socket.socket:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
    try:
        s.bind((0, _RTMGRP_LINK))
    except BaseException:
        s.close()
        raise
    return s


def gone_in(data: bytes, index: int) -> bool:
    """Whether these notices tell link `index`'s deletion."""
    off = 0
    while off + _HEADER.size <= len(data):
        length, kind = _HEADER.unpack_from(data, off)[:2]
        if length < _HEADER.size:
            break
        # the link's own notice is AF_UNSPEC's: a bridge tells a port's removal (AF_BRIDGE)
        # earlier, while the port is still being unregistered
        if kind == _RTM_DELLINK and off + _HEADER.size + 8 <= len(data) and data[off + _HEADER.size] == _AF_UNSPEC \
                and _IFINDEX.unpack_from(data, off + _HEADER.size + 4)[0] == index:
            return True
        off += (length + 3) & ~3
    return False


def delete(name: str, *, index_of: Callable[[str], int | None], delete_link: Callable[[str], None],
           background: Executor) -> None:
    """Link `name` gone from the host (whether it was there or not); `delete_link` runs in
    `background` and may still be in the kernel when this returns."""
    listener = _listener()  # before the request: its notice cannot be missed
    try:
        index = index_of(name)
        if index is None:
            return
        done_r, done_w = os.pipe2(os.O_CLOEXEC)
        try:
            try:
                job = background.submit(delete_link, name)
            except BaseException:
                os.close(done_w)
                raise
            job.add_done_callback(lambda j: _tell(done_w, name, j))  # the write end is the callback's
            poll = select.poll()  # not select(): berthd's fds may number past FD_SETSIZE
            poll.register(listener, select.POLLIN)
            poll.register(done_r, select.POLLIN)
            while True:
                ready = {fd for fd, _ in poll.poll()}
                if done_r in ready:
                    job.result()
                    return
                try:
                    if gone_in(listener.recv(1 << 16), index):
                        return
                except OSError as e:
                    if e.errno != errno.ENOBUFS:
                        raise
                    job.result()  # notices were lost, perhaps ours: the request tells
                    return
        finally:
            os.close(done_r)
    finally:
        listener.close()


def _tell(fd: int, name: str, job: Future) -> None:
    if job.exception() is not None:  # told to the waiter too, unless it went on at the notice
        log.error("deleting link %s: %s", name, job.exception())
    try:
        os.write(fd, b"x")
    except OSError:  # the waiter has gone on (its notice came first)
        pass
    finally:
        os.close(fd)
