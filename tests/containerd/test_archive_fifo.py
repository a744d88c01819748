"""berth-containerd's end of docker cp's FIFO (containerd/archive/fifo.py) on the
kernel's pipes: a file the kernel will not splice from (/proc/PID/cmdline: its file
system has no splice_read) still goes into the pipe whole, read and written, and one
shorter than its header said is padded."""

from __future__ import annotations

import errno
import os

import pytest

from berth.containerd.archive import fifo
from berth.containerd.archive.tarout import Body


def _sent(items: list[bytes | Body]) -> bytes:
    r, w = os.pipe()
    try:
        fifo.send(w, items)
        os.close(w)
        w = -1
        out = b""
        while chunk := os.read(r, 1 << 16):
            out += chunk
        return out
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


@pytest.mark.parametrize("extra", [0, 100])
def test_a_file_that_takes_no_splice_is_copied(extra: int) -> None:
    with open("/proc/self/cmdline", "rb") as f:
        expected = f.read()
    fd = os.open("/proc/self/cmdline", os.O_RDONLY | os.O_CLOEXEC)
    try:
        r, w = os.pipe()
        try:
            with pytest.raises(OSError) as e:  # what the test is about: the kernel refuses it
                os.splice(fd, w, 1)
            assert e.value.errno == errno.EINVAL
        finally:
            os.close(r)
            os.close(w)
        got = _sent([b"head", Body(fd, len(expected) + extra), b"tail"])
    finally:
        os.close(fd)
    assert got == b"head" + expected + bytes(extra) + b"tail"
