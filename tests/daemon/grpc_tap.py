"""A gRPC tap: listens on a unix socket, forwards every call as raw bytes to the
real berth-containerd, and records (method, request bytes) of each. berthd pointed
at it (--containerd) talks to the real service; the test sees what it asked, can
hold an answer back (`hold`: run a function between the service's answer and the
reply) and can cut berthd's event streams (`cut_streams`: a reconnect, as berthd
sees one)."""

from __future__ import annotations

import threading
from concurrent import futures
from typing import Any, Callable, Iterator

import grpc

_STREAM_IN = {"/berth.containerd.v1.Images/Import"}
_STREAM_OUT = {"/berth.containerd.v1.Events/Subscribe"}


class Tap(grpc.GenericRpcHandler):
    def __init__(self, listen: str, upstream: str) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.hold: dict[str, Callable[[bytes], None]] = {}
        self._streams: list[grpc.Call] = []
        self._lock = threading.Lock()
        self._up = grpc.insecure_channel("unix:" + upstream,
                                         options=[("grpc.max_receive_message_length", 64 << 20)])
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=64),
                                   options=[("grpc.max_receive_message_length", 64 << 20)])
        self._server.add_generic_rpc_handlers((self,))
        self._server.add_insecure_port("unix:" + listen)
        self._server.start()

    def close(self) -> None:
        self._server.stop(grace=0).wait()
        self._up.close()

    def seen_after(self, first: str, then: str) -> bool:
        """Whether a call to `then` came after the last call to `first`."""
        with self._lock:
            methods = [m for m, _ in self.calls]
        return first in methods and then in methods[len(methods) - methods[::-1].index(first):]

    def requests(self, method: str) -> list[bytes]:
        with self._lock:
            return [req for m, req in self.calls if m == method]

    def cut_streams(self) -> None:
        with self._lock:
            streams, self._streams = self._streams, []
        for call in streams:
            call.cancel()

    def _record(self, method: str, request: bytes) -> None:
        with self._lock:
            self.calls.append((method, request))

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = details.method
        if method in _STREAM_IN:
            up_ss = self._up.stream_unary(method)
            return grpc.stream_unary_rpc_method_handler(
                lambda it, ctx: self._forward(ctx, lambda: up_ss(it, timeout=None)))
        if method in _STREAM_OUT:
            up_us = self._up.unary_stream(method)

            def stream(req: bytes, ctx: grpc.ServicerContext) -> Iterator[bytes]:
                self._record(method, req)
                ctx.send_initial_metadata(())  # the subscriber is connected now, not at the first event
                call = up_us(req, wait_for_ready=True)
                ctx.add_callback(call.cancel)
                with self._lock:
                    self._streams.append(call)
                try:
                    yield from call
                except grpc.RpcError as e:
                    ctx.abort(e.code(), e.details() or "")

            return grpc.unary_stream_rpc_method_handler(stream)
        up_uu = self._up.unary_unary(method)

        def unary(req: bytes, ctx: grpc.ServicerContext) -> bytes:
            self._record(method, req)
            answer = self._forward(ctx, lambda: up_uu(req, wait_for_ready=True, timeout=60))
            if method in self.hold:
                self.hold[method](req)
            return answer

        return grpc.unary_unary_rpc_method_handler(unary)

    @staticmethod
    def _forward(ctx: grpc.ServicerContext, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except grpc.RpcError as e:
            ctx.abort(e.code(), e.details() or "")
