"""The service itself: its socket, its directories, and image events."""

from __future__ import annotations

import os
import stat
import threading

import grpc

from berth.proto import containerd_pb2 as pb
from tests.containerd.conftest import import_image, wait_until


def test_the_socket_is_private_to_root(daemon):
    st = os.stat(daemon.address)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0


def test_it_writes_only_under_root_and_state(daemon, workdir):
    assert sorted(os.listdir(workdir)) == sorted(["root", "state", "ctrd.sock", "containerd.log"])
    assert os.path.exists(os.path.join(daemon.root, "metadata.db"))


def test_image_events_reach_subscribers(client, busybox_tar):
    seen: list[pb.Event] = []
    stream = client.events.Subscribe(pb.SubscribeRequest())

    def read() -> None:
        try:
            for ev in stream:
                seen.append(ev)
        except grpc.RpcError:
            pass  # cancelled below

    stream.initial_metadata()  # the server sends its headers once we are subscribed
    reader = threading.Thread(target=read)
    reader.start()
    img = import_image(client, busybox_tar, "evented:1")
    client.images.Tag(pb.TagImageRequest(ref=img.id, name="evented:2"))
    client.images.Delete(pb.DeleteImageRequest(ref=img.id, force=True))
    wait_until(lambda: any(e.topic == "/images/delete" for e in seen), "the delete event")
    stream.cancel()
    reader.join(timeout=30)
    assert [(e.topic, e.id) for e in seen] == [("/images/create", img.id), ("/images/update", img.id),
                                               ("/images/delete", img.id)]
