"""Starting shims: the fork server, and the `berth-shim` command it falls back to."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

import pytest

import rootfs
from berth.containerd.errors import FailedPrecondition
from berth.containerd.runtime.forkserver import spawn_command
from berth.shim.options import ShimOptions
from berth.shim import client as shim_client
from tests.host import alive


@pytest.fixture
def scratch():
    d = tempfile.mkdtemp(prefix="berth-ctrd-fs-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_the_berth_shim_command_starts_a_detached_shim(scratch):
    bundle = rootfs.make_bundle(os.path.join(scratch, "b"), ["sh", "-c", "exit 6"])
    req = ShimOptions("c" + uuid.uuid4().hex[:8], bundle, "/usr/sbin/runc", os.path.join(scratch, "rt"),
                       os.path.join(scratch, "log.json"))
    spawned = spawn_command(req)
    assert alive(spawned.pid) and spawned.container_pid > 0
    shim_client.call(spawned.socket_path, {"op": "start"}, timeout=30)
    assert shim_client.call(spawned.socket_path, {"op": "wait"}, timeout=60)["exit_status"] == 6
    shim_client.call(spawned.socket_path, {"op": "delete"}, timeout=30)


def test_the_berth_shim_command_reports_the_runtimes_error(scratch):
    bundle = rootfs.make_bundle(os.path.join(scratch, "b"), ["no-such-command"])
    req = ShimOptions("c" + uuid.uuid4().hex[:8], bundle, "/usr/sbin/runc", os.path.join(scratch, "rt"), "")
    with pytest.raises(FailedPrecondition) as e:
        spawn_command(req)
    assert 'exec: "no-such-command": executable file not found in $PATH' in str(e.value)
    assert os.listdir(os.path.join(scratch, "rt")) == []
