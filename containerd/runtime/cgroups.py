"""A task's cgroup through its shim: statistics (Tasks.Metrics) and new limits (Tasks.Update).

Apart from tasks.py so that the lifecycle stays readable; both are one shim request.
The statistics stay JSON end to end (runc's `events --stats` data), as containerd
passes its typed metrics through without looking at them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument
from .tasks import TaskService


@dataclass
class Metrics:
    stats: dict[str, Any]
    timestamp: str


def metrics(tasks: TaskService, tid: str) -> Metrics:
    answer = tasks.shim_request(tid, {"op": "stats"})
    return Metrics(answer.get("stats") or {}, answer.get("timestamp") or "")


def update(tasks: TaskService, tid: str, resources: bytes) -> None:
    try:
        parsed = json.loads(resources or b"{}")
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"update: resources are not valid JSON: {e}") from None
    if not isinstance(parsed, dict):
        raise InvalidArgument("update: resources must be a JSON object")
    tasks.shim_request(tid, {"op": "update", "resources": parsed})
