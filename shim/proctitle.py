"""Name this process as ps shows it: its command line and its comm.

A shim is a fork of berth-containerd's fork server, so it would show the fork
server's command line (which names berth-containerd and its arguments), and whoever
stops "berth-containerd" by the pids ps lists would kill every container's shim.

Python cannot set argv: the kernel's /proc/PID/cmdline is the memory between
mm->arg_start and mm->arg_end, and the original argv area is too short for a
shim's arguments.  So the bounds are pointed at a new buffer, an anonymous mapping
kept for the rest of the process's life.  prctl(PR_SET_MM_ARG_START/ARG_END) would
need CAP_SYS_RESOURCE, which root in a container may lack (as on the test
machines); prctl(PR_SET_MM_MAP) needs no capability when it leaves the exe link alone
(CONFIG_CHECKPOINT_RESTORE, which Debian's kernels have).  It sets every bound of
the mm at once, so the others are given back as they are: from /proc/self/stat,
and brk from sbrk(0).  comm (ps -o comm, top) is separate: PR_SET_NAME, 15 bytes.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import struct
import sys

from berth.shim.libc import LIBC  # sbrk's restype is set there

_PR_SET_NAME = 15
_PR_SET_MM = 35
_PR_SET_MM_MAP = 14
_COMM_MAX = 15  # TASK_COMM_LEN less its NUL

# What mm->arg_start..arg_end point into: unmapping it would leave /proc/PID/cmdline
# reading nothing, so it lives as long as the process.
_buffers: list[tuple[mmap.mmap, ctypes.c_char]] = []


# struct prctl_mm_map (linux/prctl.h): twelve u64 fields in this order, then two u32.
_MM_FIELDS = ("start_code", "end_code", "start_data", "end_data", "start_brk", "brk",
              "start_stack", "arg_start", "arg_end", "env_start", "env_end", "auxv")
_MM_MAP = struct.Struct("=12Q2I")


# Fields of /proc/self/stat (1-based, as proc(5) numbers them) that prctl_mm_map holds.
_STAT_FIELDS = {"start_code": 26, "end_code": 27, "start_stack": 28, "start_data": 45, "end_data": 46,
                "start_brk": 47, "arg_start": 48, "arg_end": 49, "env_start": 50, "env_end": 51}


def program(name: str) -> str:
    """argv[0] for berth's `name` command: its path beside this interpreter, as an exec
    of it would show (and as an install's checks look for it), else the bare name."""
    exe = os.path.join(os.path.dirname(sys.executable), name)
    return exe if os.access(exe, os.X_OK) else name


def set_title(argv: list[str], comm: str) -> bool:
    """Show `argv` as this process's command line and `comm` as its name.

    False if the kernel refused the command line: the process works as well
    without, it is only harder to tell apart.
    """
    set_comm(comm)
    return set_cmdline(argv)


# Plain ints and bytes in the calls below, no c_int()/c_ulong(): making ctypes objects
# writes ~0.1 MiB of a forked shim's shared pages, and libffi widens ints as the
# variadic prctl reads them (small and not negative, they come out the same).


def set_comm(comm: str) -> None:
    LIBC.prctl(_PR_SET_NAME, comm.encode()[:_COMM_MAX], 0, 0, 0)


def set_cmdline(argv: list[str]) -> bool:
    """Point mm->arg_start..arg_end at a new buffer holding `argv`, NUL-separated and ended."""
    data = b"".join(arg.encode() + b"\0" for arg in argv)
    buf = mmap.mmap(-1, len(data), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    buf.write(data)
    anchor = ctypes.c_char.from_buffer(buf)  # pins the mapping: it cannot be closed while this lives
    mm = _stat_bounds()
    mm["arg_start"] = ctypes.addressof(anchor)
    mm["arg_end"] = mm["arg_start"] + len(data)
    mm["auxv"] = 0  # and auxv_size 0: keep the auxv
    # Last, so nothing can move the break between reading it and the call.
    mm["brk"] = LIBC.sbrk(0) or 0
    # exe_fd -1: keep /proc/PID/exe (changing it would need CAP_CHECKPOINT_RESTORE)
    packed = _MM_MAP.pack(*(mm[name] for name in _MM_FIELDS), 0, 0xFFFFFFFF)
    if LIBC.prctl(_PR_SET_MM, _PR_SET_MM_MAP, packed, len(packed), 0) != 0:
        del anchor
        buf.close()
        return False
    _buffers.append((buf, anchor))
    return True


def _stat_bounds() -> dict[str, int]:
    fd = os.open("/proc/self/stat", os.O_RDONLY | os.O_CLOEXEC)  # no io objects: as ctypes' above
    try:
        fields = os.read(fd, 4096).rsplit(b")", 1)[1].split()  # fields[0] is field 3, the state
    finally:
        os.close(fd)
    return {name: int(fields[n - 3]) for name, n in _STAT_FIELDS.items()}
