"""What berthd's containerd client hands to the services: plain values, and its one error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..http.errors import ApiError


class ContainerdError(ApiError):
    """A failed call: an API error already (status, message), plus what containerd said.

    `detail` is the reason alone, without the step: callers that name the step in
    docker's words ("failed to create task for container: ...") build on it.
    """

    def __init__(self, status: int, message: str, code: str, detail: str = "") -> None:
        super().__init__(status, message)
        self.code = code
        self.detail = detail or message

    @property
    def not_found(self) -> bool:
        return self.code == "not_found"

    @property
    def unreachable(self) -> bool:
        """The call did not get an answer: whether containerd did the work is unknown."""
        return self.code == "unavailable"


@dataclass
class Image:
    id: str
    names: list[str]
    config: dict[str, Any]
    size: int
    layers: list[str]
    created: str
    manifest_digest: str = ""
    layer_sizes: list[int] = field(default_factory=list)
    parent: str = ""              # docker's Parent: the image it was committed over


@dataclass
class RegistryAuth:
    """Credentials for the registry of one pull (docker's X-Registry-Auth, decoded)."""

    username: str = ""
    password: str = ""
    identity_token: str = ""
    registry_token: str = ""


@dataclass
class PullProgress:
    """One status of a pull; the last one has `image` set."""

    id: str = ""
    status: str = ""
    current: int = 0
    total: int = 0
    layer: bool = False
    image: Image | None = None
    digest: str = ""
    updated: bool = False


@dataclass
class PushProgress:
    """One status of a push; a tag's last one has `tag`, `digest` and `size` set."""

    id: str = ""
    status: str = ""
    current: int = 0
    total: int = 0
    layer: bool = False
    tag: str = ""
    digest: str = ""
    size: int = 0


@dataclass
class DeleteResult:
    untagged: list[str]
    deleted: list[str]          # image ids
    layers: list[str]           # chain ids
    reclaimed: int = 0


@dataclass
class Task:
    id: str
    pid: int
    status: str                 # created | running | stopped | paused | unknown
    exit_status: int = 0
    started_at: str = ""
    exited_at: str = ""
    oom_killed: bool = False


@dataclass
class Metrics:
    stats: dict[str, Any]       # runc's stats "data": cpu, memory, pids, blkio (v1 or v2 numbers)
    timestamp: str


@dataclass
class Event:
    topic: str                  # /tasks/exit, /containers/create, ...
    id: str
    pid: int = 0
    exit_status: int = 0
    timestamp: str = ""


@dataclass
class Container:
    id: str
    image: str
    labels: dict[str, str] = field(default_factory=dict)
    created: str = ""
