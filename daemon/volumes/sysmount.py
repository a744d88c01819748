"""mount(2), umount2(2) and openat2(2) for berthd's own mounts (a volume's device at
first use, a bind source pinned before the runtime mounts it): berthd never forks."""

from __future__ import annotations

import ctypes
import errno
import os

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.syscall.restype = ctypes.c_long

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_SYNCHRONOUS, MS_REMOUNT, MS_DIRSYNC, MS_NOATIME = 16, 32, 128, 1024
MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE = 2048, 4096, 16384, 1 << 18
MNT_DETACH = 2
_SYS_OPENAT2 = 437
_RESOLVE_NO_SYMLINKS = 0x04
_AT_FDCWD = -100

# mount(8)'s flag words, as the local driver's `o=` option takes them (the rest is data)
FLAGS = {"ro": MS_RDONLY, "nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC,
         "sync": MS_SYNCHRONOUS, "dirsync": MS_DIRSYNC, "noatime": MS_NOATIME, "nodiratime": MS_NODIRATIME,
         "bind": MS_BIND, "rbind": MS_BIND | MS_REC}
_IGNORED = {"rw", "defaults", "suid", "dev", "exec", "async", "atime", "diratime"}


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def split_options(o: str) -> tuple[int, str]:
    """(flags, data) from a comma-separated option string."""
    flags, data = 0, []
    for word in filter(None, o.split(",")):
        if word in FLAGS:
            flags |= FLAGS[word]
        elif word not in _IGNORED:
            data.append(word)
    return flags, ",".join(data)


def mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    if _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                   data.encode() if data else None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), target)


def unmount(target: str) -> None:
    """Unmount; a busy mount is detached, one not mounted is fine."""
    if _libc.umount2(target.encode(), 0) == 0:
        return
    err = ctypes.get_errno()
    if err == errno.EBUSY and _libc.umount2(target.encode(), MNT_DETACH) == 0:
        return
    err = ctypes.get_errno()
    if err not in (errno.EINVAL, errno.ENOENT):
        raise OSError(err, os.strerror(err), target)


def open_no_symlinks(path: str) -> int:
    """An O_PATH fd of `path` if no component of it is a symlink (ELOOP otherwise): the
    path was resolved just before, so a symlink now is a swap made in between."""
    how = _OpenHow(os.O_PATH | os.O_CLOEXEC, 0, _RESOLVE_NO_SYMLINKS)
    fd = _libc.syscall(_SYS_OPENAT2, ctypes.c_int(_AT_FDCWD), path.encode("utf-8", "surrogateescape"),
                       ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return fd


def mounted_under(prefix: str) -> list[str]:
    """Mount points at or below `prefix`, deepest first (for sweeping them)."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ").replace("\\134", "\\")
            if point == prefix or point.startswith(prefix.rstrip("/") + "/"):
                out.append(point)
    return sorted(out, key=len, reverse=True)


def is_mountpoint(path: str) -> bool:
    return path in mounted_under(path)
