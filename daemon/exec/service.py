"""The exec service: create an exec instance, start it in the container's shim, watch its exit.

The process is held by the container's shim (berth-containerd's Tasks.Exec): the
runtime joins it to every namespace and the cgroup of the container, and it gets
the container's capabilities.  Attached, its output goes to a json-file log of its
own (under <exec-root>/exec) that the session streams, as attach streams the
container's; its stdin is a FIFO of its own, as the container's is.  A client that
goes away leaves the process running, as with dockerd: only its exit ends it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from typing import Any, AsyncIterator, Awaitable, BinaryIO

from ..config import Config
from ..containers import spec
from ..containers.store import Container, Store
from ..events.log import EventLog
from ..http.errors import ApiError, bad_request, conflict
from ..libcontainerd import Containerd, ContainerdError
from ..libcontainerd.types import Task
from ..security import caps
from ..streams import detach, logs
from ..streams.stdin import StdinFifos
from .records import Exec

log = logging.getLogger("berthd.exec")
# how long an exited exec's DeleteProcess waits for the attached session's end (it ends
# with the exec's output, which a slow client holds up); the tests set it (longer)
_SESSION_END = float(os.environ.get("BERTHD_EXEC_SESSION_END") or 10.0)


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"invalid exec config: {what} must be a list of strings")
    return value


def start_error(message: str, code: str, argv0: str) -> tuple[int, int, str]:
    """dockerd's translateContainerdStartErr for an exec: (http status, exit code, message)."""
    if code == "invalid_argument":  # refused before the runtime ran (an unknown user)
        return 400, 126, message
    text = f"OCI runtime exec failed: {message}: unknown"
    low = message.lower()
    if argv0.lower() in low and ("executable file not found" in low or "no such file or directory" in low):
        return 400, 127, text
    if "permission denied" in low:
        return 400, 126, text
    return 500, 126, text


class Execs:
    """Exec instances by id (in memory: dockerd does not keep them across restarts either)."""

    def __init__(self, config: Config, ctrd: Containerd, store: Store, fifos: StdinFifos,
                 events: EventLog) -> None:
        self.dir = os.path.join(config.exec_root, "exec")
        self.ctrd, self.store, self.fifos, self.events = ctrd, store, fifos, events
        self._by_id: dict[str, Exec] = {}

    def get(self, eid: str) -> Exec:
        e = self._by_id.get(eid)
        if e is None or e.container_id not in self.store.by_id:
            raise ApiError(404, f"No such exec instance: {eid}")
        return e

    def container(self, e: Exec) -> Container:
        return self.store.by_id[e.container_id]

    # ------------------------------------------------------------------ create
    def create(self, ref: str, c: Container, body: dict[str, Any]) -> Exec:
        if getattr(c.state, "paused", False):
            raise conflict(f"Container {ref} is paused, unpause the container before exec")
        if not c.state.running:
            raise conflict(f"Container {c.id} is not running")
        argv = _strings(body.get("Cmd"), "Cmd")
        if not argv:
            raise bad_request("No exec command specified")
        keys = body.get("DetachKeys") or ""
        if keys:
            try:
                detach.to_bytes(keys)
            except ValueError:
                raise bad_request(f"Invalid escape keys ({keys}) provided") from None
        size = body.get("ConsoleSize")
        e = Exec(id=secrets.token_hex(32), container_id=c.id, argv=argv, tty=bool(body.get("Tty")),
                 attach_stdin=bool(body.get("AttachStdin")), attach_stdout=bool(body.get("AttachStdout")),
                 attach_stderr=bool(body.get("AttachStderr")), user=str(body.get("User") or ""),
                 privileged=bool(body.get("Privileged")), env=_strings(body.get("Env"), "Env"),
                 working_dir=str(body.get("WorkingDir") or ""), detach_keys=keys,
                 console_size=size if isinstance(size, list) and len(size) == 2 else None)
        self._sweep()
        self._by_id[e.id] = e
        # dockerd's own events for an exec (health probes too): the action names the command
        self.events.container(c.id, f"exec_create: {' '.join(argv)}", execID=e.id)
        return e

    def discard(self, eid: str) -> None:
        """Forget a finished exec now (the health monitor's probes: one every interval)."""
        e = self._by_id.get(eid)
        if e is not None and not e.running:
            del self._by_id[eid]

    def _sweep(self) -> None:
        """Forget the finished execs of containers that are gone."""
        for eid, e in list(self._by_id.items()):
            if e.container_id not in self.store.by_id and not e.running:
                del self._by_id[eid]

    # ------------------------------------------------------------------- start
    def _process(self, e: Exec, c: Container) -> dict[str, Any]:
        env = spec.merge_env(spec.process_env({**c.config, "Tty": e.tty}), e.env)
        process: dict[str, Any] = {"args": e.argv, "env": env, "terminal": e.tty,
                                   "cwd": e.working_dir or c.config.get("WorkingDir") or "/"}
        if e.tty and e.console_size and all(isinstance(v, int) and 0 < v < 65536 for v in e.console_size):
            process["consoleSize"] = {"height": e.console_size[0], "width": e.console_size[1]}
        if e.privileged:
            # as a privileged container: every capability the engine itself has
            engine_caps = list(caps.engine_caps())
            process["capabilities"] = {k: engine_caps for k in ("bounding", "effective", "permitted")}
        return process

    async def start(self, e: Exec, attached: bool, session_ended: asyncio.Event | None = None) -> None:
        """Run it; attached, its output log exists (empty) before it can write anything.
        `session_ended`: set when the attached session that starts it has ended."""
        if e.running:
            raise conflict(f"Error: Exec command {e.id} is already running")
        if e.started:
            raise conflict(f"Error: Exec command {e.id} has already run")
        c = self.store.by_id.get(e.container_id)
        if c is None or not c.state.running:
            raise conflict(f"Container {e.container_id} is not running")
        e.started = True
        started: asyncio.Future[int] | None = None
        exited: asyncio.Future[Task] | None = None
        try:
            stdin_path = self.fifos.open(e.stdin_key) if attached and e.attach_stdin else ""
            if attached and (e.attach_stdout or e.attach_stderr):
                os.makedirs(self.dir, mode=0o700, exist_ok=True)
                e.log_path = os.path.join(self.dir, f"{e.id}-json.log")
                e.log_file = os.fdopen(os.open(e.log_path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600), "rb")
            started = self.ctrd.exec(c.id, e.id, self._process(e, c), e.log_path, stdin_path,
                                     e.user or c.config.get("User") or "")
            exited = self.ctrd.wait_process(c.id, e.id)  # sent right behind the Exec, held until it answers
            e.pid = await started
        except BaseException as err:  # a failed Exec, or a start cancelled (a health probe's START_WAIT)
            for call in (started, exited):
                # a failed exec's Wait may have ended with its error already: cancel() then
                # only marks that error as seen (asyncio does not log it as never retrieved)
                if call is not None:
                    call.cancel()
            self._release(e)
            if (f := self.take_log(e)) is not None:
                f.close()
            if not isinstance(err, ContainerdError):
                raise
            status, e.exit_code, message = start_error(err.message, err.code, e.argv[0])
            e.exited.set()
            raise ApiError(status, message) from None
        self.fifos.mark_ready(e.stdin_key)
        e.running = True
        self.events.container(c.id, f"exec_start: {' '.join(e.argv)}", execID=e.id)
        asyncio.get_running_loop().create_task(self._wait(e, exited, session_ended))

    async def _wait(self, e: Exec, exited: Awaitable[Task], session_ended: asyncio.Event | None) -> None:
        try:
            try:
                task = await exited
            except ContainerdError as err:
                if not err.not_found:
                    raise
                # it overtook its Exec on the way (the shim did not know the exec yet): now it does
                task = await self.ctrd.wait_process(e.container_id, e.id)
            code = task.exit_status
        except ContainerdError as err:  # the shim went with its container
            log.info("exec %s: %s", e.id, err.message)
            code = 137
        e.exit_code, e.running = code, False
        self._release(e)
        self.events.container(e.container_id, "exec_die", execID=e.id, exitCode=str(code))
        e.exited.set()
        if session_ended is not None:
            # the shim's record can wait: the attached session ends first, its connection
            # closed, so that its client hears of the exit sooner (this call is ~1 ms of the loop)
            try:
                await asyncio.wait_for(session_ended.wait(), _SESSION_END)
            except asyncio.TimeoutError:
                pass
        try:
            await self.ctrd.delete_process(e.container_id, e.id)
        except ContainerdError:
            pass  # the task is gone, and the process with it

    def _release(self, e: Exec) -> None:
        """Its stdin FIFO and its log file (a session still streaming holds it open)."""
        self.fifos.close(e.stdin_key)
        if e.log_path:
            try:
                os.unlink(e.log_path)
            except FileNotFoundError:
                pass

    # --------------------------------------------------------- output, resize
    def take_log(self, e: Exec) -> BinaryIO | None:
        """The output log of a started, attached exec, open (it outlives the unlink); once."""
        f, e.log_file = e.log_file, None
        return f

    def open_output(self, e: Exec) -> AsyncIterator[bytes] | None:
        """The output stream of a started, attached exec."""
        f = self.take_log(e)
        if f is None:
            return None
        opts = logs.LogOptions(stdout=e.attach_stdout, stderr=e.attach_stderr, follow=True, tty=e.tty)
        return logs.stream(f, opts, lambda: e.running, exited=e.exited)

    async def resize(self, e: Exec, height: int, width: int) -> None:
        if not e.running:
            raise ApiError(404, "no such exec")
        try:
            await self.ctrd.resize_pty(e.container_id, width, height, exec_id=e.id)
        except ContainerdError as err:
            raise ApiError(err.status, f"Cannot resize exec {e.id}: {err.message}") from None
