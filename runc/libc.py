"""Thin ctypes bindings for the syscalls Python 3.11's os module lacks.

Every wrapper raises OSError with errno on failure, so callers handle them like
any other os.* call.
"""

from __future__ import annotations

import ctypes
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

MNT_DETACH = 2

PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_c = ctypes.c_char_p
_libc.mount.argtypes = [_c, _c, _c, ctypes.c_ulong, _c]
_libc.umount2.argtypes = [_c, ctypes.c_int]
_libc.pivot_root.argtypes = [_c, _c]
_libc.sethostname.argtypes = [_c, ctypes.c_size_t]
_libc.setdomainname.argtypes = [_c, ctypes.c_size_t]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(ret: int, what: str = "", path: str | None = None) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path) if path else OSError(err, os.strerror(err))
    return ret


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags))


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(fd, nstype))


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), path=target)


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), flags), path=target)


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_libc.pivot_root(_b(new_root), _b(put_old)), path=new_root)


def sethostname(name: str) -> None:
    b = name.encode()
    _check(_libc.sethostname(b, len(b)))


def setdomainname(name: str) -> None:
    b = name.encode()
    _check(_libc.setdomainname(b, len(b)))


def prctl(option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0) -> int:
    return _check(_libc.prctl(option, a2, a3, a4, a5))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


_CapPair = _CapData * 2  # made once: a new array type costs ~0.1 ms (in every exec's child)


def capset_args(effective: int, permitted: int, inheritable: int) -> tuple[Any, Any]:
    """capset(2)'s arguments for the three sets (64-bit masks), for capset_with later."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = _CapPair()
    for i in range(2):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    return hdr, data


def capset_with(args: tuple[Any, Any]) -> None:
    """Set this thread's capability sets from capset_args (made before a fork: the child only calls)."""
    _check(_libc.capset(ctypes.byref(args[0]), args[1]))


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set the three per-thread capability sets (64-bit masks)."""
    capset_with(capset_args(effective, permitted, inheritable))


# syscall(2) for calls glibc has no wrapper of; no argtypes: each caller passes ctypes values
syscall = _libc.syscall

_SYS_CLOSE_RANGE = 436  # the same number on every architecture (Linux 5.9's new syscalls are unified)
_CLOSE_RANGE_CLOEXEC = 1 << 2  # Linux 5.11


def close_range_cloexec(first: int) -> bool:
    """Mark every fd from `first` up close-on-exec in one call; False when the kernel
    cannot (older than 5.11), for the caller's own loop."""
    ret = syscall(ctypes.c_long(_SYS_CLOSE_RANGE), ctypes.c_uint(first), ctypes.c_uint(0xFFFFFFFF),
                        ctypes.c_uint(_CLOSE_RANGE_CLOEXEC))
    return ret == 0
