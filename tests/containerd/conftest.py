"""A private berth-containerd per test module: its own root, state, socket; removed after.

Every container spec made here has a cgroupsPath under a random berth-test-* name,
and teardown checks that no mount under the test's directory is left.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Iterator

import grpc
import pytest

import rootfs as rootfs_mod
from berth.proto import containerd_pb2 as pb
from berth.proto import containerd_pb2_grpc as rpc
from tests import host
from tests.host import mounts_under

BIN = os.path.join(os.path.dirname(sys.executable), "berth-containerd")


@dataclass
class Daemon:
    root: str
    state: str
    address: str
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [BIN, "--address", self.address, "--root", self.root, "--state", self.state, "--log-level", "debug"],
            stdin=subprocess.DEVNULL, stderr=open(os.path.join(os.path.dirname(self.root), "containerd.log"), "ab"),
        )
        # readiness: the socket exists, then the server answers (grpc's own retry
        # backoff would add a second if we connected before the bind)
        wait_until(lambda: os.path.exists(self.address) or self.proc.poll() is not None, "containerd binds")
        assert self.proc.poll() is None, "berth-containerd exited at startup (see containerd.log)"
        channel = grpc.insecure_channel("unix:" + self.address)
        try:
            grpc.channel_ready_future(channel).result(timeout=30)
        finally:
            channel.close()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # never leave a service behind, even when the test fails
                self.proc.wait()
                raise
        self.proc = None


@dataclass
class Client:
    channel: grpc.Channel
    images: rpc.ImagesStub
    containers: rpc.ContainersStub
    tasks: rpc.TasksStub
    events: rpc.EventsStub


def connect(address: str) -> Client:
    ch = grpc.insecure_channel("unix:" + address)
    return Client(ch, rpc.ImagesStub(ch), rpc.ContainersStub(ch), rpc.TasksStub(ch), rpc.EventsStub(ch))


@pytest.fixture(scope="module")
def workdir() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="berth-ctrd-test-")
    yield d
    _unmount_under(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def daemon(workdir: str) -> Iterator[Daemon]:
    d = Daemon(os.path.join(workdir, "root"), os.path.join(workdir, "state"), os.path.join(workdir, "ctrd.sock"))
    d.start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def client(daemon: Daemon) -> Iterator[Client]:
    c = connect(daemon.address)
    yield c
    c.channel.close()


@pytest.fixture(scope="session")
def busybox_tar() -> Iterator[bytes]:
    """A busybox rootfs as a plain tar, like `docker export` would give."""
    d = tempfile.mkdtemp(prefix="berth-bb-")
    try:
        root = rootfs_mod.make_rootfs(os.path.join(d, "rootfs"))
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name in sorted(os.listdir(root)):
                tar.add(os.path.join(root, name), arcname=name)
        yield buf.getvalue()
    finally:
        shutil.rmtree(d)


def import_image(client: Client, data: bytes, name: str, config: dict | None = None) -> pb.Image:
    def reqs() -> Iterator[pb.ImportRequest]:
        yield pb.ImportRequest(name=name, config=json.dumps(config or {}).encode())
        for i in range(0, len(data), 1 << 20):
            yield pb.ImportRequest(chunk=data[i:i + (1 << 20)])

    return client.images.Import(reqs())


def spec_for(args: list[str], **process: object) -> dict:
    """runc's default spec running `args`, with a cgroup of its own (random suffix)."""
    spec = rootfs_mod.runc_spec()
    spec["process"]["args"] = args
    spec["process"]["terminal"] = False
    spec["process"].update(process)
    spec["root"] = {"path": "rootfs", "readonly": False}  # Docker's default: a writable rootfs
    spec["linux"]["cgroupsPath"] = f"/berth-test-{uuid.uuid4().hex[:12]}"
    return spec


def cgroup_dirs(spec: dict) -> list[str]:
    """Where the runtime puts this container's cgroup, in every hierarchy."""
    return host.cgroup_dirs(spec["linux"]["cgroupsPath"])


def _unmount_under(path: str) -> None:
    for target in sorted(mounts_under(path), reverse=True):
        subprocess.run(["umount", "-l", target], check=False)


def wait_until(pred, what: str, limit: float = 20.0) -> None:
    """Poll for an outcome that another process produces; bounded, not a timing assertion."""
    deadline = time.monotonic() + limit
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)
