"""Request and response bodies as pydantic models: they type-check what berthd uses (a
wrong type is a 400, not a crash), let through every other field docker clients send,
match field names without regard to case as dockerd does (containers/fieldnames.py), and document
the API in /openapi.json."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, model_validator

from ..containers.fieldnames import CONTAINER_CREATE, HOST_CONFIG, Shape, fold_keys


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")
    _shape: ClassVar[Shape | None] = None

    @model_validator(mode="before")
    @classmethod
    def _docker_names(cls, data: Any) -> Any:
        """Keys as Docker spells them, before pydantic matches them to fields (exactly)."""
        return fold_keys(data, cls._shape) if cls._shape is not None else data


class HostConfigBody(_Open):
    _shape = HOST_CONFIG
    AutoRemove: StrictBool | None = None
    Privileged: StrictBool | None = None
    ReadonlyRootfs: StrictBool | None = None
    Memory: StrictInt | None = None
    MemorySwap: StrictInt | None = None
    CpuShares: StrictInt | None = None
    CpuQuota: StrictInt | None = None
    CpuPeriod: StrictInt | None = None
    NanoCpus: StrictInt | None = None
    CpusetCpus: StrictStr | None = None
    PidsLimit: StrictInt | None = None
    MemoryReservation: StrictInt | None = None
    CpusetMems: StrictStr | None = None
    OomScoreAdj: StrictInt | None = None
    CgroupParent: StrictStr | None = None
    Ulimits: list[dict[str, Any]] | None = None
    CapAdd: list[StrictStr] | None = None
    CapDrop: list[StrictStr] | None = None
    SecurityOpt: list[StrictStr] | None = None  # the knobs' checks: daemon/security/
    Sysctls: dict[str, StrictStr] | None = None
    Devices: list[dict[str, Any]] | None = None
    DeviceCgroupRules: list[StrictStr] | None = None
    UsernsMode: StrictStr | None = None
    Runtime: StrictStr | None = None
    NetworkMode: StrictStr | None = None
    RestartPolicy: dict[str, Any] | None = None


class ContainerCreate(_Open):
    _shape = CONTAINER_CREATE
    Image: StrictStr | None = None
    Hostname: StrictStr | None = None
    User: StrictStr | None = None
    Env: list[StrictStr] | None = None
    Cmd: list[StrictStr] | StrictStr | None = None
    Entrypoint: list[StrictStr] | StrictStr | None = None
    WorkingDir: StrictStr | None = None
    Labels: dict[str, StrictStr] | None = None
    Tty: StrictBool | None = None
    OpenStdin: StrictBool | None = None
    AttachStdin: StrictBool | None = None
    StdinOnce: StrictBool | None = None
    AttachStdout: StrictBool | None = None
    AttachStderr: StrictBool | None = None
    StopSignal: StrictStr | None = None
    StopTimeout: StrictInt | None = None
    HostConfig: HostConfigBody | None = None


class CreateResponse(BaseModel):
    Id: str
    Warnings: list[str]


class WaitResponse(BaseModel):
    StatusCode: int


class ErrorResponse(BaseModel):
    """Every error's body, as docker's: {"message": "..."}."""
    message: str


def errors(codes: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """A route's error answers for `responses=`: status -> what it means, docker's body."""
    return {code: {"model": ErrorResponse, "description": text} for code, text in codes.items()}
