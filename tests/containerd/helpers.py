"""Story steps shared by the task tests: make a container, run its task, clean it up."""

from __future__ import annotations

import json
import os
import uuid

import grpc

from berth.proto import containerd_pb2 as pb
from tests.containerd.conftest import Client, import_image, spec_for

RUNC = "/usr/sbin/runc"
RUNTIMES = [RUNC, ""]  # Debian's runc, and the default (berth-runc's library fast path)


def ensure_busybox(client: Client, tar: bytes) -> pb.Image:
    try:
        return client.images.Get(pb.GetImageRequest(ref="busybox:latest"))
    except grpc.RpcError:
        return import_image(client, tar, "busybox:latest", {"Cmd": ["sh"]})


def new_container(client: Client, image: pb.Image, args: list[str], runtime: str = RUNC) -> tuple[str, dict]:
    cid = "t" + uuid.uuid4().hex[:15]
    spec = spec_for(args)
    client.containers.Create(pb.CreateContainerRequest(container=pb.Container(
        id=cid, image=image.id, spec=json.dumps(spec).encode(), runtime=runtime, labels={"test": "yes"})))
    return cid, spec


def run_task(client: Client, cid: str, log_path: str = "") -> pb.Task:
    client.tasks.Create(pb.CreateTaskRequest(id=cid, log_path=log_path))
    return client.tasks.Start(pb.TaskRequest(id=cid))


def log_lines(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def rootfs_of(state: str, cid: str) -> str:
    return os.path.join(state, "tasks", cid, "rootfs")


def shim_pid(daemon, cid: str) -> int:  # type: ignore[no-untyped-def]
    """The pid of the shim holding task `cid` of this berth-containerd."""
    with open(os.path.join(daemon.state, "tasks", cid, "shim.pid")) as f:
        return int(f.read())
