"""The mount destinations runc refuses, with its words.

procfs and sysfs go exactly where the spec says, onto a real directory: a rootfs
whose /proc is a symlink (or a file) would otherwise have the kernel's files
mounted wherever the link points, and everything later done to "/proc/..."
(masked paths, read-only paths) done to the wrong place (runc's fix for
CVE-2019-19921 and CVE-2023-27561). And a bind mount may not cover anything inside
/proc but the few files lxcfs emulates (/proc/self/attr is how AppArmor was
bypassed, CVE-2019-16884).
"""

from __future__ import annotations

import ctypes
import os
import stat

from berth.runc.errors import RuncError

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

_PROC_SUPER_MAGIC = 0x9FA0
# inside /proc, a bind mount may cover only these (runc's validProcMounts)
_VALID_PROC_MOUNTS = ("/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
                      "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev",
                      "/proc/sys/kernel/ns_last_pid")


def check_kernel_fs(rootfs: str, m: dict[str, Any]) -> None:
    """A proc or sysfs mount refuses a destination that exists and is not a directory.

    The destination is looked at as written, its last part not followed, as runc
    does: following it is the very thing to avoid.
    """
    mtype = m.get("type") or ""
    if mtype not in ("proc", "sysfs"):
        return
    dest = os.path.join(rootfs, os.path.normpath("/" + m["destination"]).lstrip("/"))
    try:
        mode = os.lstat(dest).st_mode
    except FileNotFoundError:
        return  # made as a directory by the mount
    if not stat.S_ISDIR(mode):
        raise _refused(m, f'filesystem "{mtype}" must be mounted on ordinary directory')


def check_bind_in_proc(rootfs: str, dest: str, m: dict[str, Any]) -> None:
    """runc's checkProcMount for a bind mount; `dest` is the destination resolved in the rootfs."""
    rel = os.path.relpath(dest, os.path.join(rootfs, "proc"))
    if rel == ".." or rel.startswith("../"):
        return  # outside /proc
    source = m.get("source") or ""
    if rel == ".":
        if source == "" or _is_procfs(source):
            return
        raise _refused(m, f'"{dest}" cannot be mounted because it is not of type proc')
    if any(os.path.join(rootfs, valid.lstrip("/")) == dest for valid in _VALID_PROC_MOUNTS):
        return
    raise _refused(m, f'"{dest}" cannot be mounted because it is inside /proc')


def _refused(m: dict[str, Any], why: str) -> RuncError:
    """runc's wrapping of a mount's error (the init's own wrapping is for OSError)."""
    return RuncError(f'error mounting "{m.get("source") or ""}" to rootfs at "{m["destination"]}": {why}')


class _Statfs(ctypes.Structure):
    # struct statfs: f_type comes first; the rest is room for the kernel to fill
    _fields_ = [("f_type", ctypes.c_long), ("_rest", ctypes.c_byte * 120)]


def _is_procfs(path: str) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    buf = _Statfs()
    if libc.statfs(os.fsencode(path), ctypes.byref(buf)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return buf.f_type == _PROC_SUPER_MAGIC
