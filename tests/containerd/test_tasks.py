"""Tasks: a container's process run by a shim, through the gRPC API, with real runtimes."""

from __future__ import annotations

import json
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from berth.proto import containerd_pb2 as pb
from tests.containerd.conftest import cgroup_dirs, import_image, wait_until
from tests.host import alive, mounts_under, parent_of
from tests.containerd.helpers import RUNTIMES, ensure_busybox, log_lines, new_container, rootfs_of, run_task, shim_pid


@pytest.fixture(scope="module")
def busybox(client, busybox_tar):
    return ensure_busybox(client, busybox_tar)


@pytest.mark.parametrize("runtime", RUNTIMES, ids=["runc", "default"])
def test_a_task_runs_prints_exits_and_leaves_nothing_behind(client, daemon, workdir, busybox, runtime):
    cid, spec = new_container(client, busybox, ["sh", "-c", "echo hello from $(hostname); exit 3"], runtime)
    log_path = os.path.join(workdir, f"{cid}-json.log")

    created = client.tasks.Create(pb.CreateTaskRequest(id=cid, log_path=log_path))
    assert created.status == pb.CREATED and created.pid > 0
    started = client.tasks.Start(pb.TaskRequest(id=cid))
    assert started.pid == created.pid and started.started_at

    done = client.tasks.Wait(pb.TaskRequest(id=cid), timeout=60)
    assert done.status == pb.STOPPED and done.exit_status == 3 and done.exited_at
    assert [(e["stream"], e["log"]) for e in log_lines(log_path)] == [("stdout", "hello from runc\n")]

    deleted = client.tasks.Delete(pb.DeleteTaskRequest(id=cid))
    assert deleted.exit_status == 3
    assert mounts_under(os.path.join(daemon.state, "tasks", cid)) == []
    assert not os.path.exists(os.path.join(daemon.state, "tasks", cid))
    assert cgroup_dirs(spec) == []
    assert not alive(created.pid)
    client.containers.Delete(pb.DeleteContainerRequest(id=cid))


def test_kill_stops_a_running_task_with_the_signal_status(client, busybox):
    cid, _ = new_container(client, busybox, ["sleep", "1000"])
    task = run_task(client, cid)
    assert client.tasks.Get(pb.TaskRequest(id=cid)).status == pb.RUNNING
    assert task.pid in client.tasks.ListPids(pb.TaskRequest(id=cid)).pids

    # a stopped task is required for delete, and a container with a task stays
    with pytest.raises(grpc.RpcError) as e:
        client.tasks.Delete(pb.DeleteTaskRequest(id=cid))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as e:
        client.containers.Delete(pb.DeleteContainerRequest(id=cid))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    client.tasks.Kill(pb.KillRequest(id=cid, signal=signal.SIGKILL))
    done = client.tasks.Wait(pb.TaskRequest(id=cid), timeout=60)
    assert (done.status, done.exit_status) == (pb.STOPPED, 137)
    client.tasks.Delete(pb.DeleteTaskRequest(id=cid))
    client.containers.Delete(pb.DeleteContainerRequest(id=cid))


def test_force_delete_ends_a_running_task(client, busybox):
    cid, spec = new_container(client, busybox, ["sleep", "1000"])
    task = run_task(client, cid)
    client.tasks.Delete(pb.DeleteTaskRequest(id=cid, force=True))
    assert not alive(task.pid)
    assert cgroup_dirs(spec) == []
    client.containers.Delete(pb.DeleteContainerRequest(id=cid))


def test_the_shim_is_not_a_child_of_containerd(client, daemon, busybox):
    cid, _ = new_container(client, busybox, ["sleep", "1000"])
    task = run_task(client, cid)
    shim = shim_pid(daemon, cid)
    assert parent_of(task.pid) == shim
    assert parent_of(shim) != daemon.proc.pid  # started by the fork server: test_forkserver.py
    client.tasks.Delete(pb.DeleteTaskRequest(id=cid, force=True))
    client.containers.Delete(pb.DeleteContainerRequest(id=cid))


def test_two_containers_share_the_unpacked_layer_and_not_their_writes(client, daemon, busybox):
    a, _ = new_container(client, busybox, ["sh", "-c", "echo a > /mine; sleep 1000"])
    b, _ = new_container(client, busybox, ["sleep", "1000"])
    run_task(client, a)
    run_task(client, b)
    with open("/proc/self/mountinfo") as f:
        opts = {line.split()[4]: line.split(" - ")[1].split()[2] for line in f if " - overlay " in line}
    lower = {cid: [o for o in opts[rootfs_of(daemon.state, cid)].split(",") if o.startswith("lowerdir=")]
             for cid in (a, b)}
    assert lower[a] == lower[b]
    assert os.listdir(os.path.join(daemon.root, "snapshots", "committed")).count(busybox.layers[0][7:]) == 1
    wait_until(lambda: os.path.exists(os.path.join(rootfs_of(daemon.state, a), "mine")), "a writes /mine")
    assert not os.path.exists(os.path.join(rootfs_of(daemon.state, b), "mine"))
    for cid in (a, b):
        client.tasks.Delete(pb.DeleteTaskRequest(id=cid, force=True))
        client.containers.Delete(pb.DeleteContainerRequest(id=cid))


def test_a_missing_command_fails_create_with_the_runtimes_message(client, daemon, busybox):
    cid, spec = new_container(client, busybox, ["no-such-command"])
    with pytest.raises(grpc.RpcError) as e:
        client.tasks.Create(pb.CreateTaskRequest(id=cid))
    assert 'exec: "no-such-command": executable file not found in $PATH' in e.value.details()
    assert "\n" not in e.value.details()
    assert not os.path.exists(os.path.join(daemon.state, "tasks", cid))
    assert cgroup_dirs(spec) == []
    with pytest.raises(grpc.RpcError) as e:
        client.tasks.Get(pb.TaskRequest(id=cid))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    client.containers.Delete(pb.DeleteContainerRequest(id=cid))


def test_errors_map_to_grpc_codes(client, busybox):
    cid, spec = new_container(client, busybox, ["true"])
    again = pb.Container(id=cid, image=busybox.id, spec=client.containers.Get(pb.GetContainerRequest(id=cid)).spec)
    with pytest.raises(grpc.RpcError) as e:
        client.containers.Create(pb.CreateContainerRequest(container=again))
    assert (e.value.code(), e.value.details()) == (grpc.StatusCode.ALREADY_EXISTS, f"container {cid}: already exists")
    with pytest.raises(grpc.RpcError) as e:
        client.containers.Create(pb.CreateContainerRequest(container=pb.Container(id="x" + cid, image="nosuch", spec=again.spec)))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        client.containers.Create(pb.CreateContainerRequest(container=pb.Container(id="x" + cid, image=busybox.id, spec=b"{")))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        client.tasks.Start(pb.TaskRequest(id="nosuch"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        client.tasks.Create(pb.CreateTaskRequest(id="nosuch"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    client.tasks.Create(pb.CreateTaskRequest(id=cid))
    with pytest.raises(grpc.RpcError) as e:
        client.tasks.Create(pb.CreateTaskRequest(id=cid))
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    client.tasks.Delete(pb.DeleteTaskRequest(id=cid, force=True))
    client.containers.Delete(pb.DeleteContainerRequest(id=cid))


def test_events_tell_the_story_of_a_task(client, busybox):
    seen: list[pb.Event] = []
    stream = client.events.Subscribe(pb.SubscribeRequest())

    def read() -> None:
        try:
            for ev in stream:
                seen.append(ev)
                if ev.topic == "/containers/delete":
                    return
        except grpc.RpcError:
            pass

    stream.initial_metadata()  # the server sends its headers once we are subscribed
    reader = threading.Thread(target=read)
    reader.start()
    cid, _ = new_container(client, busybox, ["sh", "-c", "exit 5"])
    run_task(client, cid)
    client.tasks.Wait(pb.TaskRequest(id=cid), timeout=60)
    client.tasks.Delete(pb.DeleteTaskRequest(id=cid))
    client.containers.Delete(pb.DeleteContainerRequest(id=cid))
    reader.join(timeout=30)
    stream.cancel()
    mine = [(e.topic, e.exit_status) for e in seen if e.id == cid]
    assert mine == [("/containers/create", 0), ("/tasks/create", 0), ("/tasks/start", 0),
                    ("/tasks/exit", 5), ("/tasks/delete", 5), ("/containers/delete", 0)]


@pytest.mark.parametrize("runtime", RUNTIMES, ids=["runc", "default"])
def test_exec_runs_a_second_process_in_the_container(client, workdir, busybox, runtime):
    cid, _ = new_container(client, busybox, ["sleep", "1000"], runtime)
    run_task(client, cid)
    log_path = os.path.join(workdir, f"{cid}-exec.log")
    process = {"args": ["sh", "-c", "echo in $(hostname); exit 4"], "cwd": "/", "env": ["PATH=/bin"],
               "user": {"uid": 0, "gid": 0}, "terminal": False}
    pid = client.tasks.Exec(pb.ExecRequest(id=cid, exec_id="e1", process=json.dumps(process).encode(),
                                           log_path=log_path)).pid
    assert pid > 0
    done = client.tasks.Wait(pb.TaskRequest(id=cid, exec_id="e1"), timeout=60)
    assert (done.exec_id, done.status, done.exit_status) == ("e1", pb.STOPPED, 4)
    assert [e["log"] for e in log_lines(log_path)] == ["in runc\n"]
    assert client.tasks.Get(pb.TaskRequest(id=cid)).status == pb.RUNNING
    client.tasks.Delete(pb.DeleteTaskRequest(id=cid, force=True))
    client.containers.Delete(pb.DeleteContainerRequest(id=cid))


def test_tasks_created_side_by_side_all_run(client, busybox):
    cids = [new_container(client, busybox, ["sh", "-c", "exit 9"])[0] for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        created = list(pool.map(lambda c: client.tasks.Create(pb.CreateTaskRequest(id=c)), cids))
    assert len({t.pid for t in created}) == 4
    for cid in cids:
        client.tasks.Start(pb.TaskRequest(id=cid))
        assert client.tasks.Wait(pb.TaskRequest(id=cid), timeout=60).exit_status == 9
        client.tasks.Delete(pb.DeleteTaskRequest(id=cid))
        client.containers.Delete(pb.DeleteContainerRequest(id=cid))


def test_an_image_in_use_keeps_its_last_name_unless_forced_and_its_layers_always(client, busybox_tar, busybox):
    img = import_image(client, busybox_tar, "inuse:1")
    cid, _ = new_container(client, img, ["true"])
    with pytest.raises(grpc.RpcError) as e:
        client.images.Delete(pb.DeleteImageRequest(ref="inuse:1"))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "must force" in e.value.details()
    # forced, the image goes (dockerd's rule for a stopped container), its layers stay
    res = client.images.Delete(pb.DeleteImageRequest(ref="inuse:1", force=True))
    assert (list(res.untagged), list(res.deleted), list(res.deleted_layers)) == (["inuse:1"], [img.id], [])
    with pytest.raises(grpc.RpcError) as e:
        client.images.Get(pb.GetImageRequest(ref=img.id))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    run_task(client, cid)  # the container still runs from its layers
    assert client.tasks.Wait(pb.TaskRequest(id=cid), timeout=60).exit_status == 0
    client.tasks.Delete(pb.DeleteTaskRequest(id=cid))
    client.containers.Delete(pb.DeleteContainerRequest(id=cid))
    shared = any(i.layers == img.layers for i in client.images.List(pb.ListImagesRequest()).images)
    removed = client.images.GarbageCollect(pb.GarbageCollectRequest()).removed
    assert (img.layers[0] in removed) is not shared  # the busybox image's layer is the same: it stays
