"""mount(2)/umount2(2) through libc, and a look at /proc/self/mountinfo.

Python 3.11 has no binding for these; a subprocess `mount` would cost a fork+exec
per task.
"""

from __future__ import annotations

import ctypes
import errno
import os
from dataclasses import dataclass

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

MNT_DETACH = 2
_EINVAL_NOT_MOUNTED = errno.EINVAL


@dataclass
class Mount:
    type: str
    source: str
    options: list[str]


def mount(m: Mount, target: str) -> None:
    data = ",".join(m.options).encode()
    if _libc.mount(m.source.encode(), target.encode(), m.type.encode(), 0, data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {m.type} on {target}: {os.strerror(err)}")


def unmount(target: str) -> None:
    """Unmount `target`; a busy mount is detached lazily; not mounted is fine."""
    if _libc.umount2(target.encode(), 0) == 0:
        return
    err = ctypes.get_errno()
    if err == errno.EBUSY:
        if _libc.umount2(target.encode(), MNT_DETACH) == 0:
            return
        err = ctypes.get_errno()
    if err in (_EINVAL_NOT_MOUNTED, errno.ENOENT):
        return
    raise OSError(err, f"unmount {target}: {os.strerror(err)}")


def is_mountpoint(path: str) -> bool:
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if _unescape(line.split()[4]) == path:
                return True
    return False


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
