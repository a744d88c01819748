"""Exec instances as berthd keeps them (in memory, as dockerd does) and as the API shows them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, BinaryIO

@dataclass(eq=False)
class Exec:
    id: str
    container_id: str
    argv: list[str]
    tty: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    user: str = ""
    privileged: bool = False
    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    detach_keys: str = ""
    console_size: list[int] | None = None
    started: bool = False  # start was asked for (a second start is refused)
    running: bool = False
    exit_code: int | None = None
    pid: int = 0
    log_path: str = ""  # the shim's json-file log of its output, while attached
    # that log opened for reading when made, until its reader takes it: its exit unlinks
    # the path, and may be known before the reader had a turn (the Wait goes with the Exec)
    log_file: BinaryIO | None = None
    exited: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def stdin_key(self) -> str:
        """Its name among the stdin FIFOs (which are keyed like containers)."""
        return f"exec-{self.id}"


def inspect(e: Exec) -> dict[str, Any]:
    """GET /exec/{id}/json, field for field dockerd's."""
    process: dict[str, Any] = {"tty": e.tty, "entrypoint": e.argv[0], "arguments": e.argv[1:],
                               "privileged": e.privileged}
    if e.user:
        process["user"] = e.user
    return {"ID": e.id, "Running": e.running, "ExitCode": e.exit_code, "ProcessConfig": process,
            "OpenStdin": e.attach_stdin, "OpenStderr": e.attach_stderr, "OpenStdout": e.attach_stdout,
            "CanRemove": False, "ContainerID": e.container_id, "DetachKeys": e.detach_keys, "Pid": e.pid}
