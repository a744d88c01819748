"""Restart policies (HostConfig.RestartPolicy), as dockerd's restart manager and monitor
apply them (moby restartmanager/restartmanager.go, daemon/monitor.go).

At each exit the policy decides: `always` restarts, `unless-stopped` unless the user
stopped it, `on-failure[:N]` on a non-zero status (at most N times; 0 is no limit). The
restart waits first: 100 ms, doubled at each restart up to a minute, back to 100 ms once
the container had run for 10 s. Meanwhile the container is `restarting` (docker's
State.Restarting; a waiter on its exit has been told). A stop, a kill (SIGKILL, or the
StopSignal, or any signal when none is set: moby's ExitOnNext) or a removal by the user
cancels the pending restart; RestartCount counts the policy's restarts since the user
last started it.

At berthd's start (dockerd's restore), every container that is not running and that the
policy would restart is started again at once (`always` even if the user stopped it, as
docker documents; `unless-stopped` not then). A container that died while berthd or
berth-containerd was down has its exit recorded by reconcile, which calls `exited` here
like any other exit.
"""

from __future__ import annotations

import asyncio
import logging
import signal as _signal
import time
from typing import TYPE_CHECKING, Any

from berth.common.timefmt import ZERO_TIME, parse_rfc3339_nano

from ..http.errors import ApiError
from .process import parse_signal
from .store import Container

if TYPE_CHECKING:
    from .service import Engine

log = logging.getLogger("berthd.restart")

FIRST_DELAY, MAX_DELAY, RESET_AFTER = 0.1, 60.0, 10.0  # moby's, seconds
POLICIES = ("no", "always", "on-failure", "unless-stopped")


def validate(host: dict[str, Any]) -> None:
    """dockerd's refusals of a RestartPolicy (ValueError, its words); create and update."""
    policy = host.get("RestartPolicy")
    if policy is None:
        return
    if not isinstance(policy, dict):
        raise ValueError("invalid restart policy: must be an object")
    name = policy.get("Name") or ""
    count = policy.get("MaximumRetryCount") or 0
    if not isinstance(name, str) or not isinstance(count, int) or isinstance(count, bool):
        raise ValueError("invalid restart policy: Name must be a string, MaximumRetryCount an integer")
    if name in ("always", "unless-stopped", "no"):
        if count != 0:
            raise ValueError("invalid restart policy: maximum retry count can only be used with 'on-failure'"
                             + (" and cannot be negative" if count < 0 else ""))
    elif name == "on-failure":
        if count < 0:
            raise ValueError("invalid restart policy: maximum retry count cannot be negative")
    elif name != "":  # before v25 dockerd stored "" for none: still accepted, with any count
        raise ValueError(f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', "
                         "'on-failure', or 'unless-stopped'")
    if host.get("AutoRemove") and name not in ("", "no"):
        raise ValueError("can't create 'AutoRemove' container with restart policy")


def _policy(c: Container) -> tuple[str, int]:
    p = c.host_config.get("RestartPolicy") or {}
    return p.get("Name") or "no", int(p.get("MaximumRetryCount") or 0)


def wants_restart(c: Container, exit_code: int, count: int) -> bool:
    """moby's ShouldRestart, without the backoff."""
    name, limit = _policy(c)
    if name == "always":
        return True
    if name == "unless-stopped":
        return not c.manually_stopped
    if name == "on-failure":
        return exit_code != 0 and (limit == 0 or count < limit)
    return False


def cancels(c: Container, sig: int) -> bool:
    """moby's killWithSignal: which signals from the user end the restarts (ExitOnNext)."""
    stop_signal = c.config.get("StopSignal")
    if stop_signal and sig != _signal.SIGKILL:
        try:
            return parse_signal(stop_signal) == sig
        except ApiError:
            return False
    return True


class Restarts:
    """The engine's restart manager: pending restarts and each container's backoff."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._delay: dict[str, float] = {}
        self._pending: dict[str, asyncio.Task] = {}
        self._cancelled: set[str] = set()  # until the user starts it again
        self.ready = asyncio.Event()  # restore is done: the networks are back

    # ----------------------------------------------------------- the user's acts
    def user_start(self, c: Container) -> None:
        """A start by the user: a fresh restart manager (moby's ResetRestartManager)."""
        self._cancel_timer(c.id)
        self._cancelled.discard(c.id)
        self._delay.pop(c.id, None)
        c.restart_count = 0
        c.manually_stopped = False

    def user_kill(self, c: Container, sig: int) -> None:
        """A signal from the user (kill, stop, rm -f): remembered as a stop, and the end of
        the restarts when it is one that should end them."""
        if cancels(c, sig):
            self._cancelled.add(c.id)
        if not c.manually_stopped:
            c.manually_stopped = True
            self.engine.store.save(c)

    async def cancel_pending(self, c: Container) -> bool:
        """If a restart is pending, it is not done: the container is stopped (with the status
        of its last exit). True if there was one."""
        async with self.engine.waiters(c.id).lock:
            if c.state.status != "restarting":
                return False
            self._cancel_timer(c.id)
            self._cancelled.add(c.id)
            c.manually_stopped = True
            c.state.status = "exited"
            self.engine.store.save(c)
            return True

    def forget(self, cid: str) -> None:
        self._cancel_timer(cid)
        self._cancelled.discard(cid)
        self._delay.pop(cid, None)

    # ------------------------------------------------------------------ exits
    def exited(self, c: Container) -> bool:
        """Called with the container's lock held, its exit just recorded: True if a restart
        is now pending (the container is `restarting`)."""
        if c.id in self._cancelled or c.id in self._pending or c.host_config.get("AutoRemove"):
            return False
        if not wants_restart(c, c.state.exit_code, c.restart_count):
            return False
        delay = self._next_delay(c)
        c.restart_count += 1
        c.state.status = "restarting"
        self.engine.store.save(c)
        self._schedule(c, delay)
        return True

    def _next_delay(self, c: Container) -> float:
        delay = self._delay.get(c.id, 0.0)
        if _ran_for(c) >= RESET_AFTER:
            delay = 0.0
        delay = FIRST_DELAY if delay == 0 else min(delay * 2, MAX_DELAY)
        self._delay[c.id] = delay
        return delay

    def _schedule(self, c: Container, delay: float) -> None:
        task = asyncio.get_running_loop().create_task(self._restart_after(c, delay))
        self._pending[c.id] = task
        task.add_done_callback(lambda t, cid=c.id: self._pending.pop(cid, None)
                               if self._pending.get(cid) is t else None)

    async def _restart_after(self, c: Container, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.ready.wait()
        self._pending.pop(c.id, None)  # from here on it is a start, which the lock orders
        try:
            await self.engine.start(c, by_policy=True)
        except ApiError as e:
            log.warning("container %s: restart failed: %s", c.id, e.message)
            async with self.engine.waiters(c.id).lock:
                if c.state.status == "restarting":  # as dockerd: a failed restart ends the restarts
                    c.state.status = "exited"
                    self.engine.store.save(c)

    def _cancel_timer(self, cid: str) -> None:
        task = self._pending.pop(cid, None)
        if task is not None:
            task.cancel()

    # ------------------------------------------------------------------- boot
    def at_boot(self) -> None:
        """After restore: start what dockerd's restore starts (the policy says so and the
        container does not run), and restarts that were pending when berthd went."""
        for c in list(self.engine.store.by_id.values()):
            if c.state.status == "restarting":
                if c.id not in self._pending:
                    self._schedule(c, 0)
                continue
            if c.state.status != "exited" or c.state.started_at == ZERO_TIME:
                continue
            if wants_restart(c, c.state.exit_code, c.restart_count):
                c.state.status = "restarting"
                self.engine.store.save(c)
                self._schedule(c, 0)
        self.ready.set()

    def close(self) -> None:
        for cid in list(self._pending):
            self._cancel_timer(cid)


def _ran_for(c: Container) -> float:
    try:
        started = parse_rfc3339_nano(c.state.started_at) / 1e9
        finished = parse_rfc3339_nano(c.state.finished_at) / 1e9
    except ValueError:
        return 0.0
    if c.state.finished_at == ZERO_TIME:
        finished = time.time()
    return max(0.0, finished - started)
