"""berth.shim.command.run: what the shim's runc command line needs of subprocess.run."""

from __future__ import annotations

import os
import signal

import pytest

from berth.shim import command


def test_it_captures_stdout_and_stderr_and_the_status() -> None:
    assert command.run(["sh", "-c", "echo out; echo err >&2; exit 3"]) == (3, b"out\n", b"err\n")


def test_a_killed_command_has_a_negative_status() -> None:
    assert command.run(["sh", "-c", "kill -9 $$"])[0] == -signal.SIGKILL


def test_both_pipes_are_read_side_by_side() -> None:
    big = 300_000  # more than a pipe holds: reading one to its end first would hang
    code, out, err = command.run(["sh", "-c", f"head -c {big} /dev/zero >&2; head -c {big} /dev/zero"])
    assert (code, len(out), len(err)) == (0, big, big)


def test_a_missing_command_raises_as_subprocess_does() -> None:
    with pytest.raises(FileNotFoundError):
        command.run(["no-such-command-berth"])


def test_given_stdio_it_inherits_those_fds_and_no_other_nor_an_ignored_sigpipe() -> None:
    leaked = os.open(os.devnull, os.O_RDONLY)
    os.set_inheritable(leaked, True)
    r, w = os.pipe()
    old = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        script = "ls /proc/self/fd; grep SigIgn /proc/self/status; cat"
        with open(os.devnull, "rb") as null:
            assert command.run(["sh", "-c", script], (null.fileno(), w, w)) == (0, b"", b"")
        os.close(w)
        out = os.read(r, 65536).decode().split()
    finally:
        signal.signal(signal.SIGPIPE, old)
        os.close(leaked)
        os.close(r)
    assert out[:4] == ["0", "1", "2", "3"] and out[4] == "SigIgn:"  # 3: ls's own listing
    assert int(out[5], 16) & (1 << (signal.SIGPIPE - 1)) == 0
