"""The health monitor: one asyncio task per running container that has a check, probing it
as dockerd's monitor does (moby daemon/health.go).

Each probe is an exec in the container's shim, through the exec service (daemon/exec/),
as the container's user and in its working directory; its output is read from the exec's
own json-file log (4096 bytes kept, "..." marks the cut). A probe that outlives the
timeout is killed (SIGKILL to the exec) and counts as a failure with exit code -1.

State.Health (kept in the container's record, so it survives berthd) is dockerd's:
`starting` from each start until the first result that is not a failure inside the
start period; `healthy` at exit 0 (FailingStreak 0); `unhealthy` after Retries failures
in a row; the last 5 results in Log. A change of status is a `health_status: S` event.
While starting and inside the start period the probe runs every StartInterval, else
every Interval. The monitor ends at the container's exit; berthd's restart starts it
again for running containers, status back to `starting`, as dockerd's restore does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal as _signal
import time
from typing import TYPE_CHECKING, Any, BinaryIO

from berth.common.timefmt import parse_rfc3339_nano, rfc3339_nano

from ..containers.store import Container
from ..http.errors import ApiError
from ..libcontainerd import ContainerdError
from . import config as hc

if TYPE_CHECKING:
    from ..containers.service import Engine

log = logging.getLogger("berthd.health")

MAX_OUTPUT = 4096
MAX_LOG = 5
START_WAIT = 30.0  # seconds an exec may take to start (moby's)


def _go_duration(seconds: float) -> str:
    """time.Duration's String() for the timeout message: 30s, 1.5s, 500ms, 1m30s."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    minutes, secs = divmod(seconds, 60)
    if minutes:
        return f"{int(minutes)}m{secs:g}s"
    return f"{secs:g}s"


class Health:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._monitors: dict[str, asyncio.Task] = {}

    def started(self, c: Container) -> None:
        """The container runs (started, restarted, or found running at berthd's start)."""
        self.stopped(c.id)
        if hc.probe_argv(c.config) is None:
            return
        health = c.health or {"Status": "", "FailingStreak": 0, "Log": []}
        health["Status"], health["FailingStreak"] = "starting", 0
        c.health = health
        self.engine.store.save(c)
        self._monitors[c.id] = asyncio.get_running_loop().create_task(self._monitor(c))

    def stopped(self, cid: str) -> None:
        task = self._monitors.pop(cid, None)
        if task is not None:
            task.cancel()

    def close(self) -> None:
        for cid in list(self._monitors):
            self.stopped(cid)

    async def _monitor(self, c: Container) -> None:
        check = c.config.get("Healthcheck") or {}
        interval = hc.seconds(check, "Interval", hc.DEFAULT_INTERVAL)
        start_interval = hc.seconds(check, "StartInterval", hc.DEFAULT_START_INTERVAL)
        start_period = hc.seconds(check, "StartPeriod", 0.0)
        started = _epoch(c.state.started_at)
        while True:
            in_start = time.time() - started < start_period and (c.health or {}).get("Status") == "starting"
            await asyncio.sleep(start_interval if in_start else interval)
            if not c.state.running:
                return
            begun = rfc3339_nano()
            try:
                code, output = await self._probe(c, hc.seconds(check, "Timeout", hc.DEFAULT_TIMEOUT))
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - a probe that could not run is a failed probe
                log.warning("health check for container %s error: %s", c.id, e)
                code, output = -1, str(e)
            if c.state.running and self._monitors.get(c.id) is asyncio.current_task():
                self._result(c, {"Start": begun, "End": rfc3339_nano(), "ExitCode": code, "Output": output},
                             started, start_period)

    async def _probe(self, c: Container, timeout: float) -> tuple[int, str]:
        argv = hc.probe_argv(c.config) or []
        execs = self.engine.execs
        try:
            e = execs.create(c.id, c, {"Cmd": argv, "AttachStdout": True, "AttachStderr": True,
                                       "User": c.config.get("User") or "",
                                       "WorkingDir": c.config.get("WorkingDir") or ""})
        except ApiError as err:
            return -1, err.message
        try:
            try:
                await asyncio.wait_for(execs.start(e, attached=True), START_WAIT)
            except asyncio.TimeoutError:
                return -1, f"timed out starting health check for container {c.id}"
            except ApiError as err:
                return -1, err.message
            out = execs.take_log(e)  # opened with the log: the exec's end unlinks it
            try:
                try:
                    await asyncio.wait_for(e.exited.wait(), timeout)
                except asyncio.TimeoutError:
                    try:
                        await self.engine.ctrd.kill_process(c.id, e.id, _signal.SIGKILL)
                    except ContainerdError:
                        pass
                    await e.exited.wait()
                    return -1, f"Health check exceeded timeout ({_go_duration(timeout)})"
                return (e.exit_code if e.exit_code is not None else -1), _output(out)
            finally:
                if out is not None:
                    out.close()
        finally:
            execs.discard(e.id)

    def _result(self, c: Container, result: dict[str, Any], started: float, start_period: float) -> None:
        """moby's handleProbeResult."""
        health = c.health or {"Status": "starting", "FailingStreak": 0, "Log": []}
        old = health.get("Status")
        health["Log"] = [*(health.get("Log") or []), result][-MAX_LOG:]
        if result["ExitCode"] == 0:
            health["FailingStreak"] = 0
            health["Status"] = "healthy"
        elif not (old == "starting" and _epoch(result["Start"]) - started < start_period):
            health["FailingStreak"] = int(health.get("FailingStreak") or 0) + 1
            if health["FailingStreak"] >= hc.retries(c.config.get("Healthcheck") or {}):
                health["Status"] = "unhealthy"
        c.health = health
        self.engine.store.save(c)
        if health["Status"] != old:
            self.engine.events.container(c, f"health_status: {health['Status']}")


def _epoch(ts: str) -> float:
    try:
        return parse_rfc3339_nano(ts) / 1e9
    except ValueError:
        return time.time()


def _output(f: BinaryIO | None) -> str:
    """The probe's stdout and stderr as they came, cut at 4096 bytes as dockerd's."""
    if f is None:
        return ""
    data = bytearray()
    for line in f.read().splitlines():
        try:
            data += json.loads(line).get("log", "").encode()
        except ValueError:
            continue
    text = bytes(data[:MAX_OUTPUT]).decode(errors="replace")
    return text + "..." if len(data) > MAX_OUTPUT else text


def status_suffix(c: Container) -> str:
    """What ps adds to `Up ...`: (healthy), (unhealthy), (health: starting)."""
    status = (c.health or {}).get("Status")
    if not c.state.running or not status or hc.probe_argv(c.config) is None:
        return ""
    return " (health: starting)" if status == "starting" else f" ({status})"


def inspect(c: Container) -> dict[str, Any] | None:
    """State.Health, or None when there is none (inspect then has no Health key)."""
    if c.health is None:
        return None
    return {"Status": c.health.get("Status", ""), "FailingStreak": c.health.get("FailingStreak", 0),
            "Log": list(c.health.get("Log") or [])}

