"""Sampling a container's cgroup and pairing each sample with the one before (docker's
precpu_stats), once or every second."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from berth.common.timefmt import ZERO_TIME, rfc3339_nano

from ..containers.store import Container
from ..kernel import cgroup_v2
from ..libcontainerd import Containerd, ContainerdError
from . import shape

INTERVAL = 1.0  # seconds between streamed samples, dockerd's collector interval
# stream=false answers with two samples this far apart, so that CPU % has a delta to
# show (dockerd waits for its collector's second tick instead: up to two seconds).
PRIME = 0.5


@dataclass
class _Host:
    v2: bool = field(default_factory=cgroup_v2)
    memory: int = field(default_factory=shape.machine_memory)
    cpus: int = field(default_factory=shape.online_cpus)


class Stats:
    def __init__(self, ctrd: Containerd) -> None:
        self.ctrd = ctrd
        self.host = _Host()

    async def sample(self, c: Container) -> dict[str, Any] | None:
        """One reading in docker's shape (precpu empty), or None if the task is not there."""
        try:
            metrics = await self.ctrd.task_metrics(c.id)
        except ContainerdError as e:
            if e.status in (404, 409):
                return None
            raise
        data, host = metrics.stats, self.host
        return {"read": metrics.timestamp or rfc3339_nano(), "preread": ZERO_TIME,
                "pids_stats": shape.pids_stats(data), "blkio_stats": shape.blkio_stats(data),
                "num_procs": 0, "storage_stats": {},
                "cpu_stats": shape.cpu_stats(data, shape.system_cpu_usage(), host.cpus),
                "precpu_stats": shape._zero_cpu(),
                "memory_stats": shape.memory_stats(data, host.v2, host.memory),
                "name": c.name, "id": c.id}

    async def frames(self, c: Container, stream: bool, one_shot: bool) -> AsyncIterator[dict[str, Any]]:
        """The StatsJSON frames of GET /containers/{id}/stats."""
        previous: dict[str, Any] | None = None
        if not stream and not one_shot and c.state.running:
            previous = await self.sample(c)
            await asyncio.sleep(PRIME)
        while True:
            current = await self.sample(c) if c.state.running else None
            if current is None:
                frame = shape.empty(c.name, c.id)
            else:
                frame = current
                if previous is not None:
                    frame = {**current, "preread": previous["read"], "precpu_stats": previous["cpu_stats"]}
            yield frame
            if not stream:
                return
            previous = current
            await asyncio.sleep(INTERVAL)
