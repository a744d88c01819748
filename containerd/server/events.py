"""The Events service: a stream of every published event."""

from __future__ import annotations

from typing import Iterator

import grpc

from berth.proto import containerd_pb2 as pb
from berth.proto import containerd_pb2_grpc as rpc

from ..events import EventBus


class Events(rpc.EventsServicer):
    def __init__(self, events: EventBus) -> None:
        self.events = events

    def Subscribe(self, request: pb.SubscribeRequest, context: grpc.ServicerContext) -> Iterator[pb.Event]:
        q = self.events.subscribe()
        context.add_callback(lambda: self.events.unsubscribe(q))
        # Headers now, not with the first event: a client's wait_for_connection()
        # then returns as soon as it is subscribed, and nothing it does later is missed.
        context.send_initial_metadata(())
        while True:
            ev = q.get()
            if ev is None or not context.is_active():
                return
            yield pb.Event(topic=ev.topic, id=ev.id, pid=ev.pid, exit_status=ev.exit_status, timestamp=ev.timestamp)
