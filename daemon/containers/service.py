"""The container service: lifecycle over berth-containerd: create, start, stop, kill, remove, wait,
and noticing exits (events stream, plus a reconcile after every (re)connect: reconcile.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal as _signal
from typing import Any, Awaitable, Coroutine

from berth.common.timefmt import rfc3339_nano

from ..config import Config
from ..exec.service import Execs
from ..health.monitor import Health
from ..events import EventLog
from ..http.errors import ApiError, bad_request, conflict
from ..images import service as images
from ..libcontainerd import Containerd, ContainerdError
from ..stats.service import Stats
from ..network import prepare as netprep
from ..network.service import Networks
from ..security import userns
from ..streams.stdin import StdinFifos
from ..volumes.service import Volumes
from . import create as creation, exits, names, namespaces, pause, reconcile, restart, spec, update
from .process import parse_signal, start_error
from .store import Container, State, Store
from .waiters import Waiters

log = logging.getLogger("berthd.engine")


class Engine:
    def __init__(self, config: Config, ctrd: Containerd) -> None:
        self.config = config
        self.ctrd = ctrd
        self.store = Store(config.containers_dir)
        self.stdin = StdinFifos(os.path.join(config.exec_root, "fifo"))
        self.events = EventLog(self.store)  # docker's /events, fed from containerd's (daemon/events/)
        self.execs = Execs(config, ctrd, self.store, self.stdin, self.events)  # docker exec: daemon/exec/
        self._w: dict[str, Waiters] = {}
        self._monitor: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()  # held here: the loop keeps only weak references
        self.stats = Stats(ctrd)
        self.networks = Networks(config)  # daemon/network/: hooks at create, start, exit, remove
        self.volumes = Volumes(config.data_root, config.exec_root)  # daemon/volumes/: the same hooks
        self.volumes.driver.owner = userns.root_ids(config.security.remap)  # --userns-remap: new volumes' owner
        self.restarts = restart.Restarts(self)  # RestartPolicy: restart.py, called at start, kill, exit
        self.health = Health(self)  # daemon/health/: probes from each start to the exit

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def waiters(self, cid: str) -> Waiters:
        return self._w.setdefault(cid, Waiters())

    # ------------------------------------------------------------------ create
    async def create(self, name: str | None, body: dict[str, Any]) -> Container:
        req = creation.check(body, self.config, self.store)
        full_name = names.validate(name) if name else names.generate(set(self.store.by_name))
        self.store.check_name(full_name)
        image = await images.resolve(self.ctrd, req.image_ref)
        image_cfg = image.config.get("config") or {}
        cid = secrets.token_hex(32)
        filled = creation.fill(cid, req, image_cfg)
        config, host, path, args, runtime = filled.config, req.host, filled.path, filled.args, req.runtime
        networking = req.networking

        c = Container(id=cid, name=full_name, created=rfc3339_nano(), path=path, args=args,
                      config=config, host_config=host, image=image.id, runtime=runtime)
        self.store.reserve(c)
        try:
            cdir = self.store.dir_of(cid)
            self.volumes.claim(cid, host, config, image_cfg, lambda ref: self.volumes.points_of(self.store.get(ref).id))
            netprep.prepare(self.networks, cid=cid, name=full_name, config=config, host=host,
                            networking=networking, image_cfg=image_cfg, lookup=self._running_id)
            spec.etc_files(cdir, config["Hostname"])
            self.store.save(c)  # with the network settings prepare filled in
            self.volumes.commit(cid, cdir)
            # Made now so that an attach before start can hold it open (the shim appends).
            os.close(os.open(self.store.log_path(cid), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o640))
            oci = creation.oci_spec(self, cid, cdir, filled, host)
            created = self.events.seen(cid, "create")  # asked before: it cannot slip past
            try:
                await self.ctrd.create_container(cid, image.id, oci, runtime, {"berth.name": full_name},
                                                 config.get("User") or "")
            except BaseException:
                self.events.unwatch(cid, "create", created)
                raise
            await created
        except BaseException as e:
            self.store.forget(c)
            self.volumes.abandon(cid)
            if isinstance(e, asyncio.CancelledError) or (isinstance(e, ContainerdError) and e.unreachable):
                # No answer: containerd may have committed it. Undo that now (a task of its
                # own, so that a cancelled request still does it); reconcile is the backstop.
                self._spawn(creation.undo(self, cid))
            await self.networks.forget(cid)
            raise
        return c

    def _running_id(self, ref: str) -> str:
        """container:NAME's container, by id (it must exist now and run at start)."""
        return self.store.get(ref).id

    def _running(self, cid: str) -> bool:
        other = self.store.by_id.get(cid)
        return other is not None and other.state.running

    def _pid_of(self, cid: str) -> int:
        other = self.store.get(cid)
        if not other.state.running:
            raise conflict(f"cannot join network of a non running container: {other.id}")
        return other.state.pid

    # ------------------------------------------------------------------- start
    async def start(self, c: Container, by_policy: bool = False) -> bool:
        """False when it was already running (docker's 304); `by_policy`: a restart (restart.py)."""
        w = self.waiters(c.id)
        async with w.lock:
            if c.state.running or by_policy != (c.state.status == "restarting"):
                return False  # a user's start while restarting: docker's 304; a restart cancelled
            if not by_policy:
                self.restarts.user_start(c)
            if c.state.status in ("removing", "dead"):
                raise conflict(f"cannot start container {c.id}: container is marked for removal")
            step = "failed to create task for container"  # docker's words for each step
            self.volumes.starting(c.id, self._running)  # a refusal leaves nothing behind
            try:
                await self.networks.attach(c.id, self._pid_of, self.store.dir_of(c.id))
                namespaces.starting(self, c)  # --pid/--ipc container:X, --ipc shareable (namespaces.py)
                stdin_path = self.stdin.open(c.id) if c.config.get("OpenStdin") else ""
                await self.ctrd.create_task(c.id, self.store.log_path(c.id), bool(c.config.get("Tty")),
                                            stdin_path, bool(c.config.get("StdinOnce")))
                self.volumes.started(c.id)
                self.stdin.mark_ready(c.id)  # the shim holds the FIFO: attach may write and close it
                await update.apply_pending(self.ctrd, self.store, c)
                step = "failed to start task for container"
                with self.events.holding(c.id):  # `start` is heard once the state says running
                    task = await self.ctrd.start_task(c.id)
                    c.state = State(status="running", pid=task.pid, started_at=task.started_at or rfc3339_nano(),
                                    finished_at=c.state.finished_at)
            except ContainerdError as e:  # the runtime's message goes to the user
                self.stdin.close(c.id)
                self.volumes.start_failed(c.id, self._running)
                namespaces.stopped(self.config, c.id)
                task_gone = await self._drop_task(c.id)  # if unreachable, reconcile drops it
                await self.networks.release(c.id)
                msg = f"{step}: {e.detail}"
                status, code = start_error(msg, c.path)
                c.state.error, c.state.exit_code = msg, code
                self.store.save(c)
                if c.host_config.get("AutoRemove"):  # as dockerd: --rm also when start fails
                    self._spawn(self._auto_remove(c, drop_task=not task_gone))
                raise ApiError(e.status if e.unreachable else status, msg) from None
            self.store.save(c)
            self.health.started(c)
            return True

    async def _drop_task(self, cid: str) -> bool:
        """Force-delete the task; True when it is gone (or was never there)."""
        try:
            await self.ctrd.delete_task(cid, force=True, timeout=15)
        except ContainerdError as e:
            if e.not_found:
                return True
            log.warning("deleting task %s: %s", cid, e.message)
            return False
        return True

    # ------------------------------------------------------------- kill, stop
    async def kill(self, c: Container, sig: int) -> None:
        if await self.restarts.cancel_pending(c):
            return
        if not c.state.running:
            raise conflict(f"Cannot kill container: {c.name.lstrip('/')}: Container {c.id} is not running")
        self.restarts.user_kill(c, sig)
        self.events.container(c, "kill", signal=str(sig))  # before: its die may come back first
        try:
            await self.ctrd.kill_task(c.id, sig)
        except ContainerdError as e:
            if e.not_found:
                return
            raise ApiError(e.status, f"Cannot kill container: {c.id}: {e.message}") from None
        await pause.thaw_after_signal(self, c)  # a frozen container gets it once thawed

    async def stop(self, c: Container, timeout: int | None, sig: int | None = None) -> bool:
        """SIGTERM (or the StopSignal), then SIGKILL after the timeout; False if not running."""
        if await self.restarts.cancel_pending(c):
            return True
        if not c.state.running:
            return False
        w = self.waiters(c.id)
        if timeout is None:  # the container's StopTimeout (0 too), else dockerd's 10 s
            timeout = c.config.get("StopTimeout") if c.config.get("StopTimeout") is not None else 10
        first = sig or parse_signal(c.config.get("StopSignal"), _signal.SIGTERM)
        exited = w.exited
        await self.kill(c, first)
        if timeout < 0:
            await exited.wait()
        else:
            try:
                await asyncio.wait_for(exited.wait(), timeout)
            except asyncio.TimeoutError:
                if c.state.running:
                    await self.kill(c, _signal.SIGKILL)
                await exited.wait()
        self.events.container(c, "stop")
        return True

    # ------------------------------------------------------------------ remove
    async def remove(self, c: Container, force: bool) -> None:
        if c.state.status == "restarting" and not force:
            raise conflict(f'cannot remove container "{c.name}": container is restarting: '
                           "stop the container before removing or force remove")
        await self.restarts.cancel_pending(c)
        if c.state.running:
            if not force:
                raise conflict(f'cannot remove container "{c.name}": container is running: '
                               "stop the container before removing or force remove")
            w = self.waiters(c.id)
            exited = w.exited
            try:
                await self.kill(c, _signal.SIGKILL)
            except ApiError:
                # Its exit may be being recorded right now (the task deleted under the lock, the shim
                # gone): as dockerd, a kill that failed because it no longer runs is no failure of rm -f.
                async with w.lock:
                    if c.state.running:
                        raise
            await exited.wait()
        await self._remove_stopped(c)

    async def _remove_stopped(self, c: Container, drop_task: bool = True) -> None:
        """`drop_task` False when the caller has just deleted the task itself."""
        async with self.waiters(c.id).lock:  # a start in flight finishes first; then it is running, not ours
            removed = await self._remove_locked(c, drop_task)
        if removed:
            self._removed(c.id)

    async def _auto_remove(self, c: Container, drop_task: bool) -> None:
        try:
            await self._remove_stopped(c, drop_task)
        except ApiError as e:
            log.warning("auto-remove %s: %s", c.id, e.message)

    async def _remove_locked(self, c: Container, drop_task: bool) -> bool:
        """With the container's lock held; False if it was gone already."""
        if self.store.by_id.get(c.id) is not c:
            return False
        if c.state.running:
            raise conflict(f'cannot remove container "{c.name}": container is running: '
                           "stop the container before removing or force remove")
        c.state.status = "removing"
        self.store.save(c)  # a berthd killed now finishes the removal when it restarts
        self.stdin.close(c.id)
        try:
            if drop_task:
                try:
                    await self.ctrd.delete_task(c.id, force=True, timeout=15)
                except ContainerdError as e:
                    if not e.not_found:
                        raise
            await self.networks.forget(c.id)
            await self.ctrd.delete_container(c.id)
        except ContainerdError as e:
            if not e.not_found:
                if not e.unreachable:  # unreachable: still "removing", the next reconcile finishes it
                    c.state.status = "dead"
                    self.store.save(c)
                raise ApiError(e.status, f"unable to remove container {c.id}: {e.detail}") from None
        self.volumes.removed(c.id, bool(c.host_config.get("AutoRemove")))  # --rm takes its anonymous volumes
        self.events.forget_later(c)  # its destroy event (from containerd) still names it
        self.store.forget(c)
        return True

    def _removed(self, cid: str) -> None:
        self.restarts.forget(cid)
        w = self._w.pop(cid, None)
        if w is not None:
            w.removed.set()
            w.exited.set()

    # ------------------------------------------------------------------ resize
    async def resize(self, c: Container, height: int, width: int) -> None:
        """The container's terminal size (the shim's TIOCSWINSZ); docker's 409 when not running."""
        if not c.state.running:
            raise conflict(f"Container {c.id} is not running")
        try:
            await self.ctrd.resize_pty(c.id, width, height)
        except ContainerdError as e:
            raise ApiError(e.status, f"Cannot resize container {c.id}: {e.message}") from None
        self.events.container(c, "resize", height=str(height), width=str(width))

    async def pids(self, c: Container) -> list[int]:
        """Host pids of the container's processes (for top)."""
        return await self.ctrd.task_pids(c.id)

    # -------------------------------------------------------------------- wait
    def wait(self, c: Container, condition: str) -> Awaitable[int]:
        """Takes the event to wait on now, so an exit right after this call is not missed."""
        try:
            event = self.waiters(c.id).event_for(condition, c.state.running)
        except ValueError as e:
            raise bad_request(str(e)) from None

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
        async with self.waiters(cid).lock:
            if not c.state.running or (pid and c.state.pid and pid != c.state.pid):
                return
            task_left = await self._record_exit(c)
        if task_left is not None and c.host_config.get("AutoRemove"):
            await self._auto_remove(c, drop_task=task_left)

    async def _record_exit(self, c: Container) -> bool | None:
        """With the lock held: delete the task and record how it ended. True if the
        task is still there (its delete failed), None if the exit cannot be told yet."""
        ended = await exits.end_task(self, c)  # the network released meanwhile
        if ended is None:
            return None
        task, task_left = ended
        self.stdin.close(c.id)
        self.health.stopped(c.id)
        self.volumes.stopped(c.id, self._running)
        namespaces.stopped(self.config, c.id)
        c.state = State(status="exited", exit_code=task.exit_status, started_at=c.state.started_at,
                        finished_at=task.exited_at or rfc3339_nano(), oom_killed=task.oom_killed)
        self.store.save(c)
        w = self.waiters(c.id)
        exited, w.exited = w.exited, asyncio.Event()
        exited.set()
        self.restarts.exited(c)  # the policy may restart it: then it is "restarting"
        return task_left

    async def _watch_events(self) -> None:
        while True:
            try:
                async for ev in self.ctrd.events(connected=lambda: reconcile.run(self)):
                    self.events.containerd(ev.topic, ev.id, ev.exit_status)
                    if ev.topic == "/tasks/exit":
                        self._spawn(self._exited(ev.id, ev.pid))
            except asyncio.CancelledError:
                raise
            except ContainerdError as e:  # containerd went away; it comes back
                log.info("event stream ended (%s); resubscribing", e.message)
            except Exception:  # noqa: BLE001 - a bug, not an outage: say so, and carry on watching
                log.exception("event stream failed; resubscribing")
            await asyncio.sleep(0.2)

    async def restore(self) -> None:
        self.store.load()
        self.volumes.restore({cid: self.store.dir_of(cid) for cid in self.store.by_id}, self._running)
        await reconcile.run(self, startup=True)  # before the first request: exits during the downtime show
        await self.networks.restore({c.id for c in self.store.by_id.values() if c.state.running})
        for c in [c for c in self.store.by_id.values() if c.state.running]:
            self.health.started(c)  # as dockerd's restore: a new monitor, `starting`
        self.restarts.at_boot()  # as dockerd's restore: the policies' restarts
        self._monitor = asyncio.get_running_loop().create_task(self._watch_events())

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
        self.restarts.close()
        self.health.close()
        for task in list(self._background):
            task.cancel()
        await self.networks.close(any(c.state.running for c in self.store.by_id.values()))
