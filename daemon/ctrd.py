"""berthd's only line to berth-containerd: the gRPC stubs of proto/containerd.proto."""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio

from berth.proto import containerd_pb2 as pb
from berth.proto import containerd_pb2_grpc as pbg

from .errors import ApiError

# A call waits this long for a (re)starting berth-containerd before it fails.
CALL_TIMEOUT = 60.0


class Ctrd:
    """The four services on one channel; calls wait for the server to be ready,
    so a containerd that is being restarted delays requests instead of failing them."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.channel = grpc.aio.insecure_channel(
            f"unix://{address}",
            options=[("grpc.max_receive_message_length", 64 << 20),
                     ("grpc.max_send_message_length", 64 << 20)])
        self.images = pbg.ImagesStub(self.channel)
        self.containers = pbg.ContainersStub(self.channel)
        self.tasks = pbg.TasksStub(self.channel)
        self.events = pbg.EventsStub(self.channel)

    async def ready(self, timeout: float) -> None:
        await asyncio.wait_for(self.channel.channel_ready(), timeout)

    async def close(self) -> None:
        await self.channel.close()


def call_kwargs(timeout: float | None = CALL_TIMEOUT) -> dict:
    return {"wait_for_ready": True, "timeout": timeout}


def code_of(e: BaseException) -> grpc.StatusCode | None:
    return e.code() if isinstance(e, grpc.aio.AioRpcError) else None


def message_of(e: BaseException) -> str:
    if isinstance(e, grpc.aio.AioRpcError):
        return e.details() or str(e.code())
    return str(e)


def is_not_found(e: BaseException) -> bool:
    return code_of(e) == grpc.StatusCode.NOT_FOUND


_STATUS = {
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
}


def api_error(e: BaseException, prefix: str = "") -> ApiError:
    """A containerd failure as the API error docker would give for it."""
    status = _STATUS.get(code_of(e), 500)  # type: ignore[arg-type]
    return ApiError(status, prefix + message_of(e))


__all__ = ["Ctrd", "pb", "call_kwargs", "code_of", "message_of", "is_not_found", "api_error"]
