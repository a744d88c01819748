"""The shim's one handle on libc, made in the fork server and shared by every shim.

Each ctypes.CDLL() makes a class of its own (its _FuncPtr), and each function first
looked up on it a new object cached in it: made in a shim (to set its title, to
become a subreaper, to trim its heap) that is tens of KiB of the shim's own. Made
and looked up in the fork server (prewarm.py), every shim shares it.
"""

from __future__ import annotations

import ctypes

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.sbrk.restype = ctypes.c_void_p  # the program break (proctitle's PR_SET_MM_MAP)
# what the shims call, so that the lookups are made here
FUNCTIONS = ("prctl", "sbrk", "malloc_trim", "inotify_init1", "inotify_add_watch")


def resolve() -> None:
    """Look up now the functions a shim calls (each lookup caches a _FuncPtr on LIBC)."""
    for name in FUNCTIONS:
        try:
            getattr(LIBC, name)
        except AttributeError:
            pass  # not glibc: the callers cope


def trim() -> None:
    """malloc_trim(0): glibc's free heap pages back to the kernel (other libcs: nothing)."""
    try:
        LIBC.malloc_trim(0)
    except AttributeError:
        pass
