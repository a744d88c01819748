"""Survival: kill -9 of berth-containerd leaves tasks running; a new one serves them again."""

from __future__ import annotations

import os
import signal

import grpc
import pytest

from berth.proto import containerd_pb2 as pb
from tests.containerd.conftest import cgroup_dirs, connect, wait_until
from tests.host import alive, mounts_under, parent_of
from tests.containerd.helpers import RUNTIMES, ensure_busybox, new_container, rootfs_of, run_task, shim_pid


@pytest.fixture(scope="module")
def busybox(client, busybox_tar):
    return ensure_busybox(client, busybox_tar)


@pytest.mark.parametrize("runtime", RUNTIMES, ids=["runc", "default"])
def test_tasks_outlive_a_killed_containerd_and_are_served_again(daemon, busybox, runtime):
    client = connect(daemon.address)
    running, running_spec = new_container(client, busybox, ["sleep", "1000"], runtime)
    # exits with 7 once the test drops /go into its rootfs, i.e. while containerd is down
    exiting, _ = new_container(client, busybox, ["sh", "-c", "while [ ! -e /go ]; do sleep 0.05; done; exit 7"],
                               runtime)
    a = run_task(client, running)
    b = run_task(client, exiting)
    old_pid = daemon.proc.pid
    client.channel.close()

    daemon.stop(signal.SIGKILL)
    assert alive(a.pid) and alive(b.pid)
    with open(os.path.join(rootfs_of(daemon.state, exiting), "go"), "w"):
        pass
    wait_until(lambda: not alive(b.pid), "the second container exits during the downtime")

    daemon.start()
    client = connect(daemon.address)
    try:
        got = client.tasks.Get(pb.TaskRequest(id=running))
        assert (got.status, got.pid, got.started_at) == (pb.RUNNING, a.pid, a.started_at)
        gone = client.tasks.Get(pb.TaskRequest(id=exiting))
        assert (gone.status, gone.exit_status) == (pb.STOPPED, 7)
        assert sorted(t.id for t in client.tasks.List(pb.ListTasksRequest()).tasks) == sorted([running, exiting])

        shim = shim_pid(daemon, running)
        assert parent_of(shim) not in (old_pid, daemon.proc.pid)

        # sleep as PID 1 has no SIGTERM handler, so the kernel ignores TERM: KILL it
        client.tasks.Kill(pb.KillRequest(id=running, signal=signal.SIGKILL))
        assert client.tasks.Wait(pb.TaskRequest(id=running), timeout=60).exit_status == 137
        for cid in (running, exiting):
            client.tasks.Delete(pb.DeleteTaskRequest(id=cid))
            client.containers.Delete(pb.DeleteContainerRequest(id=cid))
        assert not alive(a.pid) and not alive(shim)
        assert cgroup_dirs(running_spec) == []
        assert mounts_under(os.path.join(daemon.state, "tasks")) == []
    finally:
        client.channel.close()


def test_a_task_whose_shim_died_is_cleaned_up_on_restart(daemon, busybox):
    client = connect(daemon.address)
    cid, spec = new_container(client, busybox, ["sleep", "1000"])
    task = run_task(client, cid)
    client.channel.close()
    shim = shim_pid(daemon, cid)

    daemon.stop(signal.SIGKILL)
    os.kill(shim, signal.SIGKILL)
    wait_until(lambda: not alive(shim), "the shim is gone")
    daemon.start()
    client = connect(daemon.address)
    try:
        with pytest.raises(grpc.RpcError) as e:
            client.tasks.Get(pb.TaskRequest(id=cid))
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
        assert not os.path.exists(os.path.join(daemon.state, "tasks", cid))
        assert mounts_under(os.path.join(daemon.state, "tasks")) == []
        assert not alive(task.pid) and cgroup_dirs(spec) == []
        # the container itself is metadata and stays; it can run again
        run_task(client, cid)
        client.tasks.Delete(pb.DeleteTaskRequest(id=cid, force=True))
        client.containers.Delete(pb.DeleteContainerRequest(id=cid))
    finally:
        client.channel.close()


def test_a_shim_killed_under_a_running_containerd_leaves_a_deletable_task(daemon, busybox):
    client = connect(daemon.address)
    try:
        cid, spec = new_container(client, busybox, ["sleep", "1000"])
        task = run_task(client, cid)
        shim = shim_pid(daemon, cid)
        events = client.events.Subscribe(pb.SubscribeRequest())
        events.initial_metadata()
        os.kill(shim, signal.SIGKILL)
        wait_until(lambda: not alive(shim), "the shim is gone")
        exit_event = next(ev for ev in events if ev.id == cid)
        events.cancel()
        assert (exit_event.topic, exit_event.exit_status) == ("/tasks/exit", 255)
        assert client.tasks.Wait(pb.TaskRequest(id=cid), timeout=60).status == pb.STOPPED
        client.tasks.Delete(pb.DeleteTaskRequest(id=cid))
        assert not alive(task.pid) and cgroup_dirs(spec) == []
        assert mounts_under(os.path.join(daemon.state, "tasks")) == []
        client.containers.Delete(pb.DeleteContainerRequest(id=cid))
    finally:
        client.channel.close()


def test_sigterm_stops_the_service_but_not_its_tasks(daemon, busybox):
    client = connect(daemon.address)
    cid, _ = new_container(client, busybox, ["sleep", "1000"])
    task = run_task(client, cid)
    pending_wait = client.tasks.Wait.future(pb.TaskRequest(id=cid))  # blocks inside the service
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=30) == 0
    assert pending_wait.exception() is not None  # the caller hears the service went away
    client.channel.close()
    assert not os.path.exists(daemon.address)
    assert alive(task.pid)
    daemon.start()
    client = connect(daemon.address)
    try:
        assert client.tasks.Get(pb.TaskRequest(id=cid)).status == pb.RUNNING
        client.tasks.Delete(pb.DeleteTaskRequest(id=cid, force=True))
        client.containers.Delete(pb.DeleteContainerRequest(id=cid))
        assert not alive(task.pid)
    finally:
        client.channel.close()


def test_a_shim_too_busy_to_answer_at_restart_is_adopted_not_killed(daemon, busybox):
    client = connect(daemon.address)
    cid, spec = new_container(client, busybox, ["sleep", "1000"])
    task = run_task(client, cid)
    client.channel.close()
    shim = shim_pid(daemon, cid)

    daemon.stop(signal.SIGKILL)
    os.kill(shim, signal.SIGSTOP)  # alive, but it cannot answer the restarted service
    try:
        daemon.start()
    finally:
        os.kill(shim, signal.SIGCONT)
    client = connect(daemon.address)
    try:
        assert alive(task.pid) and alive(shim)
        got = client.tasks.Get(pb.TaskRequest(id=cid))
        assert (got.status, got.pid) == (pb.RUNNING, task.pid)
        client.tasks.Delete(pb.DeleteTaskRequest(id=cid, force=True))
        client.containers.Delete(pb.DeleteContainerRequest(id=cid))
        assert not alive(task.pid) and cgroup_dirs(spec) == []
    finally:
        client.channel.close()


def test_a_snapshot_left_by_a_crash_without_its_container_is_removed_at_start(daemon, busybox):
    client = connect(daemon.address)
    kept, _ = new_container(client, busybox, ["true"])
    client.channel.close()
    daemon.stop(signal.SIGKILL)
    # what a crash between "snapshot prepared" and "container row written" leaves
    orphan = os.path.join(daemon.root, "snapshots", "active", "crashed-before-its-row")
    os.makedirs(os.path.join(orphan, "fs", "etc"))
    os.makedirs(os.path.join(orphan, "work"))

    daemon.start()
    assert not os.path.exists(orphan)
    assert os.path.isdir(os.path.join(daemon.root, "snapshots", "active", kept))
    client = connect(daemon.address)
    try:
        client.containers.Delete(pb.DeleteContainerRequest(id=kept))
        assert not os.path.exists(os.path.join(daemon.root, "snapshots", "active", kept))
    finally:
        client.channel.close()
