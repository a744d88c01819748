"""An exec's Wait sent together with its Exec (as berthd does): held until the Exec answers."""

from __future__ import annotations

import json

import grpc
import pytest

from berth.proto import containerd_pb2 as pb
from tests.containerd.helpers import ensure_busybox, new_container, run_task


@pytest.fixture(scope="module")
def busybox(client, busybox_tar):
    return ensure_busybox(client, busybox_tar)


@pytest.fixture
def task(client, busybox):
    cid, _ = new_container(client, busybox, ["sleep", "1000"])
    run_task(client, cid)
    yield cid
    client.tasks.Delete(pb.DeleteTaskRequest(id=cid, force=True))
    client.containers.Delete(pb.DeleteContainerRequest(id=cid))


def _exec(cid: str, exec_id: str, args: list[str]) -> pb.ExecRequest:
    process = {"args": args, "cwd": "/", "env": ["PATH=/bin"], "terminal": False}
    return pb.ExecRequest(id=cid, exec_id=exec_id, process=json.dumps(process).encode())


def test_a_wait_sent_with_its_exec_gets_the_exit(client, task):
    for i in range(8):  # the Wait's thread may run ahead of the Exec's: each order is met
        started = client.tasks.Exec.future(_exec(task, f"e{i}", ["sh", "-c", f"exit {i}"]), timeout=60)
        exited = client.tasks.Wait.future(pb.TaskRequest(id=task, exec_id=f"e{i}"), timeout=60)
        assert started.result().pid > 0
        done = exited.result()
        assert (done.exec_id, done.status, done.exit_status) == (f"e{i}", pb.STOPPED, i)
        client.tasks.DeleteProcess(pb.TaskRequest(id=task, exec_id=f"e{i}"))


def test_a_wait_sent_with_a_failing_exec_ends_with_its_error(client, task):
    held = 0
    for i in range(5):
        started = client.tasks.Exec.future(_exec(task, f"bad{i}", ["/no/such/binary"]), timeout=60)
        exited = client.tasks.Wait.future(pb.TaskRequest(id=task, exec_id=f"bad{i}"), timeout=60)
        with pytest.raises(grpc.RpcError) as exec_error:
            started.result()
        assert "no such file or directory" in exec_error.value.details().lower()
        with pytest.raises(grpc.RpcError) as wait_error:
            exited.result()
        got, want = wait_error.value, exec_error.value
        if got.code() != grpc.StatusCode.NOT_FOUND:  # it may have come after its Exec was over
            assert (got.code(), got.details()) == (want.code(), want.details())
            held += 1
    assert held > 0  # held until its Exec failed: without the hold the shim does not know it


def test_a_wait_for_an_exec_nobody_started_is_not_found(client, task):
    with pytest.raises(grpc.RpcError) as e:
        client.tasks.Wait(pb.TaskRequest(id=task, exec_id="never"), timeout=60)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
