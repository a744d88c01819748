"""The berth-containerd that berthd starts itself when no --containerd is given.

Like dockerd's supervisor: start it, restart it when it dies. Because containers
must outlive a `kill -9` of berthd, a restarted berthd adopts a live managed
containerd (found by the pidfile in exec-root) instead of starting a second one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field

from berth.common.fdready import ready
from berth.common.files import write_atomic

from ..config import Config

log = logging.getLogger("berthd.containerd")


def _executable() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "berth-containerd")
    if os.path.exists(script):
        return [script]
    return [sys.executable, "-c", "from berth.containerd.main import main; main()"]


def _alive_with_address(pid: int, address: str) -> bool:
    """pid runs (not a zombie) and is a berth-containerd serving `address`."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    return state not in ("Z", "X") and address.encode() in args


@dataclass
class ManagedContainerd:
    config: Config
    pid: int | None = None
    _proc: subprocess.Popen | None = None
    _stopping: bool = False
    _task: asyncio.Task | None = field(default=None, repr=False)

    @property
    def pidfile(self) -> str:
        return os.path.join(self.config.exec_root, "berth-containerd.pid")

    @property
    def address(self) -> str:
        return self.config.containerd_address

    def start(self) -> None:
        """Adopt the live managed containerd if there is one, else start one."""
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
            if _alive_with_address(pid, self.address):
                log.info("reusing running berth-containerd (pid %d)", pid)
                self.pid = pid
                return
        except (OSError, ValueError):
            pass
        self._spawn()

    def _spawn(self) -> None:
        c = self.config
        os.makedirs(c.exec_root, exist_ok=True)
        logf = open(os.path.join(c.exec_root, "berth-containerd.log"), "ab")
        args = [*_executable(), "--address", self.address,
                "--root", c.containerd_root, "--state", c.containerd_state]
        # Its own session: a signal for berthd's process group must not reach it.
        # Not systemd's NOTIFY_SOCKET: berthd's READY=1 is the unit's, not its containerd's.
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                      start_new_session=True, close_fds=True, env=env)
        logf.close()
        self.pid = self._proc.pid
        # Whole or absent: a berthd killed mid-write must not leave an empty pidfile, which
        # would have the next one start a second containerd beside this one.
        write_atomic(self.pidfile, f"{self.pid}\n".encode(), durable=False)
        log.info("started berth-containerd (pid %d)", self.pid)

    def supervise(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _wait_exit(self, pid: int) -> None:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            await ready(fd)  # a pidfd is readable once the process has exited
        finally:
            os.close(fd)
        if self._proc is not None and self._proc.pid == pid:
            self._proc.wait()  # reap our own child

    async def _watch(self) -> None:
        while not self._stopping:
            assert self.pid is not None
            await self._wait_exit(self.pid)
            if self._stopping:
                return
            log.warning("berth-containerd (pid %d) exited; restarting it", self.pid)
            await asyncio.sleep(0.2)
            self._spawn()

    async def stop(self, timeout: float = 10.0) -> None:
        """On a clean berthd shutdown, end containerd as dockerd does; the shims carry on."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
        if self.pid is None or not _alive_with_address(self.pid, self.address):
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
            await asyncio.wait_for(self._wait_exit(self.pid), timeout)
        except asyncio.TimeoutError:
            os.kill(self.pid, signal.SIGKILL)
            await self._wait_exit(self.pid)
        except ProcessLookupError:
            pass
        try:
            os.unlink(self.pidfile)
        except FileNotFoundError:
            pass
