"""What descriptors a container's process starts with: stdio, the preserved ones, nothing else.

A forked init or exec child holds every descriptor of its caller (the berth-runc
command, or berth-shim calling the library) until execve, close-on-exec or not,
and a created container waits in that state until `start`: anything that joins it
meanwhile (an exec, a hook, a ptrace) could reach them, and a host directory fd is
a way out of the rootfs. So, as runc's init holds only its own fifo and pipes, the
child closes every other descriptor as soon as it exists, before it joins any
namespace.
"""

from __future__ import annotations

import fcntl
import gc
import os

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

_MAX_FD = 1 << 30  # closerange's upper bound: close_range(2) takes it at no cost


def install_stdio(stdio: Sequence[int | None] | None) -> None:
    """dup2 the given fds onto 0, 1, 2, even when they name each other (stdio=(1, 0, 2))."""
    if stdio is None:
        return
    # a source among 0..2 would be overwritten by an earlier dup2: copy it above 2 first
    # (the copies are not kept: close_all_but closes them after)
    sources = [fd if fd is None or fd == i or fd > 2 else fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
               for i, fd in enumerate(stdio)]
    for i, fd in enumerate(sources):
        if fd is not None and fd != i:
            os.dup2(fd, i)


def close_all_but(keep: Iterable[int], preserve_fds: int = 0) -> None:
    """Close every fd above stdio but `keep` and runc's --preserve-fds range 3..3+N-1.

    The cyclic collector is switched off first: closed fds are reused by the child's
    own opens, and finalizing a caller's file or socket object would then close one of
    them. The child ends in execve or _exit, so it never needs the collector.
    """
    gc.disable()
    wanted = sorted({fd for fd in keep if fd >= 3} | set(range(3, 3 + preserve_fds)))
    low = 3
    for fd in wanted:
        if fd > low:
            os.closerange(low, fd)
        low = max(low, fd + 1)
    os.closerange(low, _MAX_FD)
