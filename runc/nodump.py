"""The runtime is never dumpable inside a container (the CVE-2019-5736 class).

A process that joins a container's namespaces is the runtime: its /proc/PID/exe is the
host's interpreter, its memory holds the runtime's state. While it is dumpable, a
process in the container (same uid, root) may open /proc/PID/exe, /proc/PID/mem or
ptrace it. Non-dumpable, all of that needs CAP_SYS_PTRACE over it, which Docker's
defaults never give. The flag is set in the parent around the fork, so the child is
non-dumpable from its first instruction (exec forks straight into the container's pid
namespace: there is no window for a racing process); execve of the container's own
program resets it, as for any new program.
"""

from __future__ import annotations

import os
import sys

from berth.runc import libc
from berth.runc.errors import RuncError

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


class Forking:
    """`with Forking(): pid = os.fork()`: the child inherits non-dumpable; the parent is
    restored as it was when the block ends (a plain class: no contextlib import)."""

    __slots__ = ("_was", "_pid")

    def __enter__(self) -> None:
        # A fork copies one thread: a lock another thread holds (the allocator's, the
        # import lock) stays held in the child forever, which hangs or aborts it. The CLI
        # and the shim are single-threaded; a threaded caller gets an error, not a hang.
        threading = sys.modules.get("threading")
        if threading is not None and (n := threading.active_count()) > 1:
            raise RuncError(f"berth.runc forks the container's process: call it from a single-threaded "
                            f"process (this one runs {n} threads)")
        self._was = libc.prctl(PR_GET_DUMPABLE)
        self._pid = os.getpid()
        libc.prctl(PR_SET_DUMPABLE, 0)

    def __exit__(self, *exc: object) -> None:
        if self._was and os.getpid() == self._pid:  # the child leaves the block too: it stays as it is
            try:
                libc.prctl(PR_SET_DUMPABLE, self._was)
            except OSError:
                pass


def set_dumpable(on: bool) -> None:
    """For the user-namespace handshake only: the runtime writes our uid/gid maps, which a
    non-dumpable process's /proc files (owned by the host's root) would refuse to a
    rootless runtime. We are not in the container's pid namespace yet: nothing there sees us."""
    libc.prctl(PR_SET_DUMPABLE, 1 if on else 0)
