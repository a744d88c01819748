"""The container service: lifecycle over berth-containerd: create, start, stop, kill, remove, wait,
and noticing exits (events stream, plus a reconcile after every (re)connect)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal as _signal
from dataclasses import dataclass, field
from typing import Any, Awaitable

from berth.common.timefmt import rfc3339_nano

from ..config import Config
from ..http.errors import ApiError, bad_request, conflict
from ..images import service as images
from ..libcontainerd import Containerd, ContainerdError, Task
from ..network import prepare as netprep
from ..network.service import Networks
from ..streams.stdin import StdinFifos
from . import names, spec
from .process import command, parse_signal
from .store import Container, State, Store

log = logging.getLogger("berthd.engine")


def _start_error(message: str, argv0: str) -> tuple[int, int]:
    """moby translateContainerdStartErr: (http status, exit code) of a failed start."""
    low = message.lower()
    if argv0.lower() in low and ("executable file not found" in low or "no such file or directory" in low):
        return 400, 127
    if "permission denied" in low:
        return 400, 126
    return 500, 128


_KILL_WAIT, _KILL_LAST_WAIT = 10.0, 2.0  # dockerd's, seconds


async def _within(event: asyncio.Event, timeout: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), timeout)
        return True
    except TimeoutError:
        return False


@dataclass
class _Waiters:
    """`exited` is set at the next exit and then replaced: a waiter that took it
    before an exit sees exactly that exit."""
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    removed: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Engine:
    def __init__(self, config: Config, ctrd: Containerd) -> None:
        self.config = config
        self.ctrd = ctrd
        self.store = Store(config.containers_dir)
        self.stdin = StdinFifos(os.path.join(config.exec_root, "fifo"))
        self._w: dict[str, _Waiters] = {}
        self._monitor: asyncio.Task | None = None
        self.networks = Networks(config)  # daemon/network/: hooks at create, start, exit, remove

    def waiters(self, cid: str) -> _Waiters:
        return self._w.setdefault(cid, _Waiters())

    # ------------------------------------------------------------------ create
    async def create(self, name: str | None, body: dict[str, Any]) -> Container:
        host = body.pop("HostConfig", None) or {}
        networking = body.pop("NetworkingConfig", None)
        image_ref = body.get("Image") or ""
        if not image_ref:
            raise bad_request("Config cannot be empty in order to create a container")
        workdir = body.get("WorkingDir") or ""
        if workdir and not workdir.startswith("/"):
            raise bad_request(f"the working directory '{workdir}' is invalid, it needs to be an absolute path")
        runtime_name = host.get("Runtime") or self.config.default_runtime
        try:
            runtime = self.config.runtime_binary(runtime_name)
        except KeyError:
            raise bad_request(f"unknown or invalid runtime name: {runtime_name}")
        full_name = names.validate(name) if name else names.generate(set(self.store.by_name))
        self.store.check_name(full_name)
        image = await images.resolve(self.ctrd, image_ref)
        image_cfg = image.config.get("config") or {}

        cid = secrets.token_hex(32)
        config = dict(body)
        config["Hostname"] = config.get("Hostname") or cid[:12]
        config["Env"] = spec.merge_env(image_cfg.get("Env") or [], config.get("Env") or [])
        for key, default in (("WorkingDir", ""), ("User", "")):
            config[key] = config.get(key) or image_cfg.get(key) or default
        if image_cfg.get("Labels"):
            config["Labels"] = {**image_cfg["Labels"], **(config.get("Labels") or {})}
        config.setdefault("StopSignal", image_cfg.get("StopSignal"))
        parse_signal(config["StopSignal"])  # refused now, or the container could never be stopped
        path, args = command(config, image_cfg)
        host.setdefault("LogConfig", {"Type": "json-file", "Config": {}})
        host["Runtime"] = runtime_name

        c = Container(id=cid, name=full_name, created=rfc3339_nano(), path=path, args=args,
                      config=config, host_config=host, image=image.id, runtime=runtime)
        self.store.reserve(c)
        try:
            cdir = self.store.dir_of(cid)
            netprep.prepare(self.networks, cid=cid, name=full_name, config=config, host=host,
                            networking=networking, image_cfg=image_cfg, lookup=self._running_id)
            spec.etc_files(cdir, config["Hostname"])
            self.store.save(c)  # with the network settings prepare filled in
            # Made now so that an attach before start can hold it open (the shim appends).
            os.close(os.open(self.store.log_path(cid), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o640))
            try:
                oci = spec.build(cid=cid, path=path, args=args, config=config, host=host,
                                 container_dir=cdir, cgroup_parent=self.config.cgroup_parent)
                netprep.adjust_spec(self.networks, oci, cid)
            except ValueError as e:
                raise bad_request(str(e))
            await self.ctrd.create_container(cid, image.id, oci, runtime, {"berth.name": full_name},
                                             config.get("User") or "")
        except ApiError:  # containerd's refusal is one too
            self.store.forget(c)
            await self.networks.forget(cid)
            raise
        return c

    def _running_id(self, ref: str) -> str:
        """container:NAME's container, by id (it must exist now and run at start)."""
        return self.store.get(ref).id

    def _pid_of(self, cid: str) -> int:
        other = self.store.get(cid)
        if not other.state.running:
            raise conflict(f"cannot join network of a non running container: {other.id}")
        return other.state.pid

    # ------------------------------------------------------------------- start
    async def start(self, c: Container) -> bool:
        """False when it was already running (docker's 304)."""
        w = self.waiters(c.id)
        async with w.lock:
            if c.state.running:
                return False
            if c.state.status in ("removing", "dead"):
                raise conflict(f"cannot start container {c.id}: container is marked for removal")
            try:
                await self.networks.attach(c.id, self._pid_of, self.store.dir_of(c.id))
                stdin_path = self.stdin.open(c.id) if c.config.get("OpenStdin") else ""
                await self.ctrd.create_task(c.id, self.store.log_path(c.id), bool(c.config.get("Tty")),
                                            stdin_path, bool(c.config.get("StdinOnce")))
                self.stdin.mark_ready(c.id)  # the shim holds the FIFO: attach may write and close it
                task = await self.ctrd.start_task(c.id)
            except ContainerdError as e:  # the runtime's message goes to the user
                self.stdin.close(c.id)
                await self._drop_task(c.id)
                await self.networks.release(c.id)
                msg = e.message
                status, code = _start_error(msg, c.path)
                c.state.error, c.state.exit_code = msg, code
                self.store.save(c)
                if c.host_config.get("AutoRemove"):  # as dockerd: --rm also when start fails
                    asyncio.get_running_loop().create_task(self._remove_stopped(c))
                raise ApiError(status, msg)
            c.state = State(status="running", pid=task.pid,
                            started_at=task.started_at or rfc3339_nano(),
                            finished_at=c.state.finished_at)
            self.store.save(c)
            return True

    async def _drop_task(self, cid: str) -> None:
        try:
            await self.ctrd.delete_task(cid, force=True, timeout=15)
        except ContainerdError as e:
            if not e.not_found:
                log.warning("deleting task %s: %s", cid, e.message)

    # ------------------------------------------------------------- kill, stop
    async def kill(self, c: Container, sig: int) -> None:
        if not c.state.running:
            raise conflict(f"Cannot kill container: {c.name.lstrip('/')}: Container {c.id} is not running")
        try:
            await self.ctrd.kill_task(c.id, sig)
        except ContainerdError as e:
            if e.not_found:
                return
            raise ApiError(e.status, f"Cannot kill container: {c.id}: {e.message}")

    async def kill_and_wait(self, c: Container, sig: int) -> None:
        """The API's kill (moby's ContainerKill): after SIGKILL it answers once the container
        has stopped, so that `docker kill X && docker rm X` works; other signals are only
        sent. Like dockerd: if no exit is seen in 10 s, SIGKILL the init process directly,
        and fail if that is not seen to end it within 2 s more."""
        if sig != _signal.SIGKILL:
            await self.kill(c, sig)
            return
        exited = self.waiters(c.id).exited  # taken before the signal: this exit, not a later one
        pid = c.state.pid
        await self.kill(c, sig)
        if await _within(exited, _KILL_WAIT) or not c.state.running:
            return
        log.warning("container %s did not exit within %ss of SIGKILL: killing pid %d directly",
                    c.id, _KILL_WAIT, pid)
        try:
            if pid > 0:
                os.kill(pid, _signal.SIGKILL)
        except ProcessLookupError:
            pass
        if not await _within(exited, _KILL_LAST_WAIT) and c.state.running:
            raise ApiError(500, f"Cannot kill container: {c.id}: tried to kill container, "
                                "but did not receive an exit event")

    async def stop(self, c: Container, timeout: int | None, sig: int | None = None) -> bool:
        """SIGTERM (or the StopSignal), then SIGKILL after the timeout; False if not running."""
        if not c.state.running:
            return False
        w = self.waiters(c.id)
        if timeout is None:
            timeout = c.config.get("StopTimeout") or 10
        first = sig or parse_signal(c.config.get("StopSignal"), _signal.SIGTERM)
        exited = w.exited
        await self.kill(c, first)
        if timeout < 0:
            await exited.wait()
            return True
        try:
            await asyncio.wait_for(exited.wait(), timeout)
        except TimeoutError:
            if c.state.running:
                await self.kill(c, _signal.SIGKILL)
            await exited.wait()
        return True

    # ------------------------------------------------------------------ remove
    async def remove(self, c: Container, force: bool) -> None:
        if c.state.running:
            if not force:
                raise conflict(f'cannot remove container "{c.name}": container is running: '
                               "stop the container before removing or force remove")
            exited = self.waiters(c.id).exited
            await self.kill(c, _signal.SIGKILL)
            await exited.wait()
        await self._remove_stopped(c)

    async def _remove_stopped(self, c: Container) -> None:
        w = self.waiters(c.id)
        async with w.lock:  # a start in flight finishes first; then it is running, not ours
            if c.id not in self.store.by_id:
                return
            if c.state.running:
                raise conflict(f'cannot remove container "{c.name}": container is running: '
                               "stop the container before removing or force remove")
            c.state.status = "removing"
            self.store.save(c)  # a berthd killed now finishes the removal when it restarts
            self.stdin.close(c.id)
            await self._drop_task(c.id)
            await self.networks.forget(c.id)
            try:
                await self.ctrd.delete_container(c.id)
            except ContainerdError as e:
                if not e.not_found:
                    c.state.status = "dead"
                    self.store.save(c)
                    raise ApiError(e.status, f"unable to remove container {c.id}: {e.message}")
            self.store.forget(c)
        w.removed.set()
        w.exited.set()
        self._w.pop(c.id, None)

    # ------------------------------------------------------------------ resize
    async def resize(self, c: Container, height: int, width: int) -> None:
        """The container's terminal size (the shim's TIOCSWINSZ); docker's 409 when not running."""
        if not c.state.running:
            raise conflict(f"Container {c.id} is not running")
        try:
            await self.ctrd.resize_pty(c.id, width, height)
        except ContainerdError as e:
            raise ApiError(e.status, f"Cannot resize container {c.id}: {e.message}")

    async def pids(self, c: Container) -> list[int]:
        """Host pids of the container's processes (for top)."""
        return await self.ctrd.task_pids(c.id)

    # -------------------------------------------------------------------- wait
    def wait(self, c: Container, condition: str) -> Awaitable[int]:
        """Takes the event to wait on now, so an exit right after this call is not missed."""
        w = self.waiters(c.id)
        if condition == "not-running":
            event = w.exited if c.state.running else None
        elif condition == "next-exit":
            event = w.exited
        elif condition == "removed":
            event = w.removed
        else:
            raise bad_request(f"invalid condition: {condition!r}")

        async def waiting() -> int:
            if event is not None:
                await event.wait()
            return c.state.exit_code

        return waiting()

    # ------------------------------------------------------------------- exits
    async def _exited(self, cid: str, pid: int = 0) -> None:
        """A task ended: record its status, delete the task, honour AutoRemove."""
        c = self.store.by_id.get(cid)
        if c is None:
            return
        w = self.waiters(cid)
        async with w.lock:
            if not c.state.running or (pid and c.state.pid and pid != c.state.pid):
                return
            try:
                task = await self.ctrd.delete_task(cid)
            except ContainerdError as e:
                if e.not_found:
                    task = Task(id=cid, pid=0, status="stopped", exit_status=255)
                else:
                    # The exit is still recorded if containerd can tell it; the task is
                    # dropped by the next reconcile. Unreachable: reconcile retries all.
                    log.warning("task %s: delete after exit: %s", cid, e.message)
                    try:
                        task = await self.ctrd.get_task(cid)
                    except ContainerdError:
                        return
                    if task.status != "stopped":
                        return
            code, finished = task.exit_status, task.exited_at or rfc3339_nano()
            self.stdin.close(cid)
            await self.networks.release(cid)
            c.state = State(status="exited", exit_code=code, started_at=c.state.started_at,
                            finished_at=finished)
            self.store.save(c)
            exited, w.exited = w.exited, asyncio.Event()
            exited.set()
        if c.host_config.get("AutoRemove"):
            try:
                await self._remove_stopped(c)
            except ApiError as e:
                log.warning("auto-remove %s: %s", cid, e.message)

    async def reconcile(self) -> None:
        """Bring every record in line with containerd's tasks (after a (re)connect)."""
        tasks = {t.id: t for t in await self.ctrd.list_tasks()}
        for c in list(self.store.by_id.values()):
            t = tasks.get(c.id)
            if t is not None and t.status == "running":
                if not c.state.running:  # should not happen; a task we did not start
                    c.state = State(status="running", pid=t.pid, started_at=t.started_at or rfc3339_nano())
                    self.store.save(c)
                if c.config.get("OpenStdin"):
                    self.stdin.adopt(c.id)  # a restarted berthd writes to the same FIFO
                continue
            if c.state.running:
                await self._exited(c.id)
            elif t is not None:
                await self._drop_task(c.id)
            elif c.state.status == "removing":
                await self._remove_stopped(c)
            elif c.host_config.get("AutoRemove") and c.state.status == "exited":
                await self._remove_stopped(c)

    async def _watch_events(self) -> None:
        while True:
            try:
                async for ev in self.ctrd.events(connected=self.reconcile):
                    if ev.topic == "/tasks/exit":
                        asyncio.get_running_loop().create_task(self._exited(ev.id, ev.pid))
            except asyncio.CancelledError:
                raise
            except ContainerdError as e:  # containerd went away; it comes back
                log.info("event stream ended (%s); resubscribing", e.message)
            except Exception:  # noqa: BLE001 - a bug, not an outage: say so, and carry on watching
                log.exception("event stream failed; resubscribing")
            await asyncio.sleep(0.2)

    async def restore(self) -> None:
        for c in self.store.load():
            if c.state.status == "removing":
                await self._remove_stopped(c)
        await self.reconcile()  # before the first request: exits during the downtime show
        await self.networks.restore({c.id for c in self.store.by_id.values() if c.state.running})
        self._monitor = asyncio.get_running_loop().create_task(self._watch_events())

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
        await self.networks.close(any(c.state.running for c in self.store.by_id.values()))
