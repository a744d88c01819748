"""fork() with the child born in a cgroup: clone3(2) with CLONE_INTO_CGROUP (Linux 5.7).

Writing a pid to a cgroup.procs file migrates it under cgroup_threadgroup_rwsem taken
for write, and on a host where no migration happened lately that waits for an RCU
grace period (up to ~15 ms): the largest step of an exec's join. A child cloned into
its cgroup takes that lock for read only (cgroup_css_set_fork), as runc >= 1.2 does for
its exec. Python has no clone3, so this is the syscall through ctypes, bracketed as
os.fork brackets fork(): PyOS_BeforeFork, the call, PyOS_AfterFork_Child/_Parent. They
run with the GIL held (a PyDLL), as os.fork's fork() does. What glibc's fork() adds (its
atfork handlers, the child's cached tid) matters to a multi-threaded caller only; every
caller here is single-threaded (berth.runc.nodump.Forking refuses others), and the
child execs soon.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import sys

_SYS_CLONE3 = 435  # x86_64 and aarch64 alike (the unified numbers of Linux 5.3's new syscalls)
_CLONE_INTO_CGROUP = 0x200000000

_py = ctypes.PyDLL(None, use_errno=True)  # the GIL stays held through the call, as in os.fork
_syscall = _py.syscall
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long, ctypes.c_void_p, ctypes.c_size_t]
_before, _child, _parent = _py.PyOS_BeforeFork, _py.PyOS_AfterFork_Child, _py.PyOS_AfterFork_Parent
for _f in (_before, _child, _parent):
    _f.restype, _f.argtypes = None, []


class _CloneArgs(ctypes.Structure):
    """struct clone_args up to its cgroup field (CLONE_ARGS_SIZE_VER2, 88 bytes)."""

    _fields_ = [(name, ctypes.c_uint64) for name in (
        "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size", "tls",
        "set_tid", "set_tid_size", "cgroup")]


# what a kernel without clone3 or without CLONE_INTO_CGROUP (older than 5.7) answers;
# once seen, not asked again
_UNSUPPORTED = (errno.ENOSYS, errno.E2BIG)
_supported = True


def fork_into_cgroup(cgroup_fd: int) -> int | None:
    """os.fork(), with the child in the cgroup2 directory open as `cgroup_fd` from birth:
    0 in the child, its pid in the parent. None when the kernel refuses (too old for it,
    or the cgroup cannot take the child: gone, or one with controllers for its children);
    the caller then forks and joins as before, and that join says what is wrong."""
    global _supported
    if not _supported:
        return None
    args = _CloneArgs(flags=_CLONE_INTO_CGROUP, exit_signal=signal.SIGCHLD, cgroup=cgroup_fd)
    sys.audit("os.fork")
    _before()
    try:
        pid = _syscall(_SYS_CLONE3, ctypes.addressof(args), ctypes.sizeof(args))
    except BaseException:
        _parent()  # the import lock _before took, released as os.fork does on failure
        raise
    if pid == 0:  # pragma: no cover - runs in the child
        _child()
        return 0
    err = ctypes.get_errno()
    _parent()
    if pid > 0:
        return pid
    if err in _UNSUPPORTED:
        _supported = False
    elif err in (errno.EAGAIN, errno.ENOMEM):
        raise OSError(err, os.strerror(err))  # as os.fork would
    return None
