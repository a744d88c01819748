"""The shim's half of stdin and tty: the FIFO its caller holds, and resize, with both runtimes.

berthd is the FIFO's writer in the full chain; here the test is, so what the shim
does with the bytes, with their end and with a window size is seen on its own.
"""

from __future__ import annotations

import dataclasses
import os
import time

from berth.shim import spawn
from tests.shim.conftest import Task, Workspace, shared_rootfs, workspace  # noqa: F401  (fixtures)


def _with_stdin_fifo(ws: Workspace, args: list[str], terminal: bool = False,
                     stdin_once: bool = True) -> tuple[Task, int]:
    """A shim fed by a FIFO whose write end we hold (opened O_RDWR, as berthd does)."""
    fifo = os.path.join(ws.dir, "stdin.fifo")
    os.mkfifo(fifo, 0o600)
    writer = os.open(fifo, os.O_RDWR | os.O_CLOEXEC)
    options = dataclasses.replace(ws.options(args, terminal=terminal, stdin=True), stdin_path=fifo,
                                  stdin_once=stdin_once)
    return ws.adopt(options, spawn(options)), writer


def test_what_is_written_to_the_fifo_is_read_by_cat_and_its_end_ends_cat(workspace: Workspace) -> None:
    task, writer = _with_stdin_fifo(workspace, ["cat"])
    task.call("start")
    os.write(writer, b"one\ntwo\n")
    os.close(writer)  # StdinOnce: the last writer goes, the container's stdin closes
    assert task.call("wait")["exit_status"] == 0
    assert [e["log"] for e in task.log_entries()] == ["one\n", "two\n"]


def test_without_stdin_once_the_writer_going_away_does_not_close_stdin(workspace: Workspace) -> None:
    task, writer = _with_stdin_fifo(workspace, ["sh", "-c", "cat; echo got-eof"], stdin_once=False)
    task.call("start")
    os.write(writer, b"before\n")
    os.close(writer)  # berthd dies: the shim's own writer keeps the container's stdin open
    again = os.open(os.path.join(workspace.dir, "stdin.fifo"), os.O_WRONLY | os.O_CLOEXEC)
    os.write(again, b"after\n")  # a restarted berthd opens the same FIFO
    os.close(again)
    deadline = time.monotonic() + 10
    while len(task.log_entries()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [e["log"] for e in task.log_entries()] == ["before\n", "after\n"]  # no got-eof
    assert task.call("state")["status"] == "running"
    task.call("kill", signal=9)  # pid 1 ignores SIGTERM without a handler
    assert task.call("wait")["exit_status"] == 128 + 9


def test_a_shell_on_a_pty_reads_the_fifo_and_sees_the_size_it_was_given(workspace: Workspace) -> None:
    task, writer = _with_stdin_fifo(workspace, ["sh"], terminal=True)
    task.call("start")
    assert task.call("resize", width=77, height=22) == {}
    os.write(writer, b"stty size; exit 5\n")
    assert task.call("wait")["exit_status"] == 5
    os.close(writer)
    text = "".join(e["log"] for e in task.log_entries())
    assert "22 77\r\n" in text, text


def test_resize_of_a_container_without_a_terminal_is_no_error(workspace: Workspace) -> None:
    task = workspace.spawn(["true"])
    assert task.call("resize", width=80, height=24) == {}
    task.call("start")
    task.call("wait")
