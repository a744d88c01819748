"""What a shim is asked to do, and what spawn hands back: shared by spawn, main and the loop."""

from __future__ import annotations

import os
from dataclasses import dataclass

from berth.common import RUNTIME_LIBRARY  # noqa: F401 — shim's name for it (--runtime berth)


class ShimError(Exception):
    """The shim could not start its container; str(e) is the runtime's one-line message."""


@dataclass(frozen=True)
class ShimOptions:
    id: str
    bundle: str  # also the shim's state directory: shim.pid, shim.sock, exit.json live here
    runtime: str  # "berth" or the path of a runc-compatible binary
    runtime_root: str
    log_path: str  # docker json-file log of the container's stdout/stderr; "" discards
    terminal: bool = False
    stdin: bool = False
    # A FIFO whose write end the caller holds: copied into the container's stdin,
    # its EOF closes that stdin (containerd's stdin path). "" = none.
    stdin_path: str = ""
    # EOF on stdin_path closes the container's stdin; otherwise the shim holds a writer
    # of its own so that stdin outlives the caller (docker's StdinOnce).
    stdin_once: bool = False

    @property
    def socket_path(self) -> str:
        return os.path.join(self.bundle, "shim.sock")

    @property
    def pid_path(self) -> str:
        return os.path.join(self.bundle, "shim.pid")

    @property
    def exit_path(self) -> str:
        return os.path.join(self.bundle, "exit.json")

    def argv(self) -> list[str]:
        """The berth-shim command line that asks for the same shim."""
        args = ["--id", self.id, "--bundle", self.bundle, "--runtime", self.runtime,
                "--runtime-root", self.runtime_root, "--log-path", self.log_path]
        if self.terminal:
            args.append("--terminal")
        if self.stdin:
            args.append("--stdin")
        if self.stdin_path:
            args += ["--stdin-path", self.stdin_path]
        if self.stdin_once:
            args.append("--stdin-once")
        return args


@dataclass(frozen=True)
class ShimProcess:
    pid: int  # the shim's own pid (not a child of spawn's caller)
    socket_path: str
    container_pid: int  # host pid of the container's process 1
