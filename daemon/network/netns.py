"""Network namespaces berthd makes and enters, one thread at a time.

A network namespace belongs to a thread, not to the process: unshare(CLONE_NEWNET)
and setns() in one thread leave berthd's other threads (the event loop, gRPC's) where
they are. So berthd never forks for this (forking a process that runs threads is
unsafe): the worker thread moves into a namespace, opens what it needs there (a
netlink socket, the DNS server's socket: a socket stays in the namespace it was made
in), and moves back."""

from __future__ import annotations

import contextlib
import ctypes
import os
from typing import Iterator

CLONE_NEWNET = 0x40000000
_MS_BIND = 0x1000
_MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str, path: str = "") -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", path)


def _setns(fd: int) -> None:
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")


@contextlib.contextmanager
def entered(path: str) -> Iterator[None]:
    """This thread inside the namespace at `path` for the block, then back."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(fd)
        finally:
            os.close(fd)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)


def create(path: str) -> None:
    """A new, empty network namespace kept alive by a bind mount at `path`."""
    os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o444))
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.unshare(CLONE_NEWNET), "unshare", path)
        try:
            _check(_libc.mount(b"/proc/thread-self/ns/net", path.encode(), None, _MS_BIND, None),
                   "mount", path)
        finally:
            _setns(home)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    finally:
        os.close(home)


def bind(source: str, path: str) -> None:
    """`path` made a second name of the namespace at `source` (container:NAME)."""
    os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o444))
    _check(_libc.mount(source.encode(), path.encode(), None, _MS_BIND, None), "mount", path)


def remove(path: str) -> None:
    """Unmount and unlink; a namespace already gone is fine."""
    _libc.umount2(path.encode(), _MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def mounted(path: str) -> bool:
    """Whether `path` is a namespace (a mounted nsfs), not a leftover empty file."""
    try:
        return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return False
