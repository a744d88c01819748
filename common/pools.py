"""Filling the holes of CPython's small-object pools before a process forks children.

After imports and a collection, pymalloc's pools are full of free blocks scattered
over the whole heap. A forked child's first allocations go into those holes, and
each one copies the page it lands on (copy-on-write) for a few bytes: the shims
forked from berth-containerd's fork server paid hundreds of KiB each that way.
fill() takes every free block of every partly used pool with small objects kept
alive in the parent, so the children allocate from fresh pools (the arenas' empty
ones are mostly never touched), pages of their own from the start. The ballast is shared by all
children and never touched by them: it costs its size once.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

_ROW = re.compile(rb"^\s*(\d+)\s+(\d+)\s+\d+\s+\d+\s+(\d+)\s*$", re.M)  # class size pools in-use avail
_PASSES = 3  # a pass that takes new pools leaves a partly used one per size class


def fill() -> list[object]:
    """Take the free blocks; the caller keeps the list alive for as long as it forks."""
    ballast: list[object] = []
    for _ in range(_PASSES):
        avail = _stats()
        if not avail or not any(avail.values()):
            break
        for size, count in avail.items():
            ballast.extend(_block(size, i) for i in range(count))
    return ballast


def _block(size: int, i: int) -> object:
    """A fresh object whose allocation falls in pymalloc's size class `size`."""
    if size == 16:
        return object()
    if size == 32:
        return float(i) + 0.5  # 24 bytes; never a cached constant
    return bytes(size - sys.getsizeof(b""))  # the header and the trailing NUL, as size


def _stats() -> dict[int, int] | None:
    """Free blocks per size class in partly used pools (None: no pymalloc to ask)."""
    if not hasattr(sys, "_debugmallocstats"):
        return None  # not CPython
    with tempfile.TemporaryFile() as out:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()  # writes to C's stderr
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read()
    # no rows: pymalloc is off (PYTHONMALLOC=malloc)
    return {int(size): int(avail) for _, size, avail in _ROW.findall(text)} or None
