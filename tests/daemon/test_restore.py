"""What a restarted or reconnected berthd makes of what a crash left, one case at a
time (test_crash.py does the same at random moments), and the clean shutdown."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import uuid
from typing import Iterator

import grpc
import httpx

from berth.proto import containerd_pb2 as pb
from berth.proto import containerd_pb2_grpc as rpc
from tests.daemon.conftest import Berthd, run_container, wait_until
from tests.daemon.grpc_tap import Tap
from tests.daemon.stores import containerd_view, leaks, private_berthd, problems
from tests.host import alive


def _ctrd_channel(d: Berthd) -> grpc.Channel:
    return grpc.insecure_channel("unix:" + os.path.join(d.exec_root, "containerd.sock"))


def _orphan(d: Berthd, labels: dict[str, str]) -> str:
    """A container as containerd has it when berthd's create got no answer: committed, unrecorded."""
    cid = uuid.uuid4().hex + uuid.uuid4().hex
    spec = {"ociVersion": "1.0.2", "process": {"args": ["true"], "cwd": "/"}, "root": {"path": "rootfs"}}
    with _ctrd_channel(d) as ch:
        image = rpc.ImagesStub(ch).Get(pb.GetImageRequest(ref="busybox:latest"), timeout=30)
        rpc.ContainersStub(ch).Create(pb.CreateContainerRequest(container=pb.Container(
            id=cid, image=image.id, spec=json.dumps(spec).encode(), labels=labels)), timeout=30)
    return cid


def _active_snapshots(d: Berthd) -> list[str]:
    return os.listdir(os.path.join(d.data_root, "containerd", "snapshots", "active"))


def _rm_all(d: Berthd) -> None:
    with d.client() as api:
        for c in api.get("/containers/json", params={"all": 1}).json():
            assert api.delete(f"/containers/{c['Id']}", params={"force": 1}).status_code == 204
        assert problems(d, api) == []
    assert wait_until(lambda: not leaks(d)), leaks(d)


def test_sigterm_is_a_clean_shutdown_and_the_containers_carry_on() -> None:
    with private_berthd() as d:
        d.start()
        with d.client() as api:
            cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"]})
            pid = api.get(f"/containers/{cid}/json").json()["State"]["Pid"]
        ctrd = d.containerd_pid()
        # A client in the middle of a stream when the signal comes: berthd closes it.
        following, ended = threading.Event(), threading.Event()

        def follow() -> None:
            try:
                with d.client(timeout=120) as c, c.stream("GET", f"/containers/{cid}/logs",
                                                          params={"follow": 1, "stdout": 1}) as r:
                    following.set()
                    for _ in r.iter_bytes():
                        pass
            except httpx.HTTPError:
                pass
            ended.set()

        threading.Thread(target=follow, daemon=True).start()
        assert following.wait(30)
        assert d.proc is not None
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(60) == 0, d.log_tail()
        assert ended.wait(30)
        assert not os.path.exists(d.sock) and not os.path.exists(os.path.join(d.root, "berthd.pid"))
        # dockerd ends the containerd it manages on a clean shutdown; the shims carry on.
        assert wait_until(lambda: not alive(ctrd)) and alive(pid)

        d.start()
        with d.client() as api:
            st = api.get(f"/containers/{cid}/json").json()["State"]
            assert st["Running"] and st["Pid"] == pid
        _rm_all(d)


def test_containers_only_containerd_knows_are_removed_at_start_and_at_reconnect() -> None:
    with private_berthd() as d:
        d.start()
        with d.client() as api:
            kept = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"]})
        first = _orphan(d, {"berth.name": "/lost-reply"})
        foreign = _orphan(d, {"made-by": "someone else"})  # not berthd's: left alone
        assert first in _active_snapshots(d)
        d.kill9(containerd=False)
        d.start()
        view = containerd_view(d)
        assert first not in view.containers and first not in _active_snapshots(d)
        assert foreign in view.containers and kept in view.containers

        second = _orphan(d, {"berth.name": "/lost-reply-2"})
        old = d.containerd_pid()
        os.kill(old, signal.SIGKILL)  # berthd restarts it, reconnects, reconciles
        assert wait_until(lambda: not alive(old) and d.containerd_pid() != old)
        assert wait_until(lambda: second not in containerd_view(d).containers)
        assert second not in _active_snapshots(d) and d.containerd_pid() != old
        with _ctrd_channel(d) as ch:
            rpc.ContainersStub(ch).Delete(pb.DeleteContainerRequest(id=foreign), timeout=30)
        with d.client() as api:
            assert api.get(f"/containers/{kept}/json").json()["State"]["Running"]
        _rm_all(d)


def test_what_a_crash_left_in_the_containers_directory_is_swept() -> None:
    with private_berthd() as d:
        d.start()
        with d.client() as api:
            r = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["true"]}, params={"name": "keep"})
            kept = r.json()["Id"]
        d.kill9(containerd=False)
        cdir = os.path.join(d.data_root, "containers")
        # killed between reserve's mkdir and its rename; and in the middle of a save
        half = os.path.join(cdir, uuid.uuid4().hex * 2)
        os.makedirs(half)
        with open(os.path.join(half, "config.v2.json.tmp.4242"), "w") as f:
            f.write('{"id": "half')
        with open(os.path.join(cdir, kept, "config.v2.json.tmp.4243"), "w") as f:
            f.write("{")
        # a record whose create never reached containerd: berthd died before containerd committed
        with open(os.path.join(cdir, kept, "config.v2.json")) as f:
            record = json.load(f)
        never = uuid.uuid4().hex * 2
        os.makedirs(os.path.join(cdir, never))
        with open(os.path.join(cdir, never, "config.v2.json"), "w") as f:
            json.dump({**record, "id": never, "name": "/never"}, f)
        foreign = os.path.join(cdir, "not-a-container")  # not ours to judge
        os.makedirs(foreign)
        d.start()
        assert not os.path.exists(half)
        assert os.listdir(os.path.join(cdir, kept)) and not [
            n for n in os.listdir(os.path.join(cdir, kept)) if ".tmp." in n]
        assert not os.path.exists(os.path.join(cdir, never)) and os.path.isdir(foreign)
        os.rmdir(foreign)
        with d.client() as api:
            assert api.get(f"/containers/{kept}/json").status_code == 200
            assert api.get("/containers/never/json").status_code == 404
        _rm_all(d)


def test_rm_containers_are_removed_when_berthd_comes_back() -> None:
    with private_berthd() as d:
        d.start()
        with d.client() as api:
            created = api.post("/containers/create", json={
                "Image": "busybox", "Cmd": ["true"], "HostConfig": {"AutoRemove": True}}).json()["Id"]
            short = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "1"], "HostConfig": {"AutoRemove": True}})
            long = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"], "HostConfig": {"AutoRemove": True}})
            pid = api.get(f"/containers/{short}/json").json()["State"]["Pid"]
        d.kill9(containerd=True)
        assert wait_until(lambda: not alive(pid))  # it exits while nobody watches
        d.start()
        with d.client() as api:
            # as dockerd's restore: every --rm container that does not run is removed
            assert api.get(f"/containers/{created}/json").status_code == 404
            assert api.get(f"/containers/{short}/json").status_code == 404
            assert api.get(f"/containers/{long}/json").json()["State"]["Running"]
            assert problems(d, api) == []
        _rm_all(d)


@contextlib.contextmanager
def _tapped(d: Berthd) -> Iterator[Tap]:
    """berthd talking to its own berth-containerd through a tap that records every call."""
    from tests.containerd.conftest import Daemon

    d.start()  # its managed containerd makes the built-in images, then goes with it
    d.stop()
    ctrd = os.path.join(d.exec_root, "containerd.sock")
    real = Daemon(os.path.join(d.data_root, "containerd"), os.path.join(d.exec_root, "containerd"), ctrd)
    real.start()
    tap = Tap(os.path.join(d.root, "tap.sock"), ctrd)
    try:
        d.extra_args = ["--containerd", os.path.join(d.root, "tap.sock")]
        d.start()
        yield tap
        d.stop()
    finally:
        tap.close()
        real.stop()


def _ids(tap: Tap, method: str, message: type) -> list[str]:
    return [message.FromString(b).id for b in tap.requests(f"/berth.containerd.v1.{method}")]


def test_auto_remove_deletes_the_task_once() -> None:
    with private_berthd() as d, _tapped(d) as tap, d.client() as api:
        quick = run_container(api, {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"AutoRemove": True}})
        assert wait_until(lambda: api.get(f"/containers/{quick}/json").status_code == 404)
        r = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["nosuchcommand"],
                                                 "HostConfig": {"AutoRemove": True}})
        failed = r.json()["Id"]
        r = api.post(f"/containers/{failed}/start")
        assert r.status_code == 400 and r.json()["message"].startswith("failed to create task for container: ")
        assert wait_until(lambda: api.get(f"/containers/{failed}/json").status_code == 404)
        deletes = _ids(tap, "Tasks/Delete", pb.DeleteTaskRequest)
        assert deletes.count(quick) == 1 and deletes.count(failed) == 1
        assert _ids(tap, "Containers/Delete", pb.DeleteContainerRequest) == [quick, failed]


def test_a_reconcile_never_removes_a_container_being_created() -> None:
    sub, lst = "/berth.containerd.v1.Events/Subscribe", "/berth.containerd.v1.Containers/List"
    with private_berthd() as d, _tapped(d) as tap, d.client() as api:
        assert wait_until(lambda: tap.seen_after(sub, lst))  # berthd's own reconcile at connect is done

        def reconnect_before_the_answer(request: bytes) -> None:
            # containerd has committed the container; berthd's create still waits for the
            # answer while berthd reconnects and reconciles
            cid = pb.CreateContainerRequest.FromString(request).container.id
            subscribed = len(tap.requests(sub))
            tap.cut_streams()
            assert wait_until(lambda: len(tap.requests(sub)) > subscribed and tap.seen_after(sub, lst))
            assert wait_until(lambda: cid in _ids(tap, "Tasks/Get", pb.TaskRequest))
            # what reconcile would do to it comes right after its look at the task
            wait_until(lambda: cid in _ids(tap, "Containers/Delete", pb.DeleteContainerRequest), timeout=2)

        tap.hold["/berth.containerd.v1.Containers/Create"] = reconnect_before_the_answer
        r = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["true"]})
        del tap.hold["/berth.containerd.v1.Containers/Create"]
        assert r.status_code == 201, r.text
        cid = r.json()["Id"]
        assert cid not in _ids(tap, "Tasks/Delete", pb.DeleteTaskRequest)
        assert cid not in _ids(tap, "Containers/Delete", pb.DeleteContainerRequest)
        assert cid in containerd_view(d).containers
        assert api.post(f"/containers/{cid}/start").status_code == 204
        r = api.delete(f"/containers/{cid}", params={"force": 1})
        assert r.status_code == 204, r.text
