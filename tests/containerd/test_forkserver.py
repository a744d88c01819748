"""Starting shims: the fork server, and the `berth-shim` command it falls back to.

Through a private berth-containerd, what ps shows: each shim as `berth-shim --id ID
...`, the fork server as `berth-containerd fork-server ...`, and nothing defunct
under the fork server once its shims are started.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid

import pytest

import rootfs
from berth.containerd.errors import FailedPrecondition
from berth.containerd.runtime.forkhelper import MAX_MSG
from berth.containerd.runtime.forkserver import ENTRY, ForkServer, helper_command, spawn_command
from berth.proto import containerd_pb2 as pb
from berth.shim import client as shim_client
from berth.shim.main import parse_args
from berth.shim.options import ShimOptions
from tests.containerd.conftest import wait_until
from tests.containerd.helpers import RUNTIMES, ensure_busybox, new_container, run_task, shim_pid
from tests.host import alive, children_of


@pytest.fixture(scope="module")
def busybox(client, busybox_tar):
    return ensure_busybox(client, busybox_tar)


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


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().decode().split("\0")[:-1]


def ps(pid: int, column: str) -> str:
    return subprocess.run(["ps", "-ww", "-o", f"{column}=", "-p", str(pid)],
                          capture_output=True, text=True, check=True).stdout.strip()


def born_with(pid: int, length: int) -> bytes:
    """The last `length` bytes of the argv area the process was exec'd with.

    execve lays out the argv strings right below the environment's, and a fork
    keeps that memory: only the kernel's pointers moved when the title was set.
    """
    with open(f"/proc/{pid}/stat") as f:
        env_start = int(f.read().rsplit(")", 1)[1].split()[50 - 3])
    with open(f"/proc/{pid}/mem", "rb") as f:
        f.seek(env_start - length)
        return f.read(length)


def fork_server(daemon) -> int:  # type: ignore[no-untyped-def]
    """berth-containerd's one long-lived child (shims are detached, workers are its children)."""
    helpers = [p for p in children_of(daemon.proc.pid) if alive(p)]
    assert len(helpers) == 1, helpers
    return helpers[0]


def finish(client, cid: str) -> None:  # type: ignore[no-untyped-def]
    client.tasks.Delete(pb.DeleteTaskRequest(id=cid, force=True))
    client.containers.Delete(pb.DeleteContainerRequest(id=cid))


@pytest.mark.parametrize("runtime", RUNTIMES, ids=["runc", "default"])
def test_each_shim_reads_berth_shim_with_its_arguments_in_ps(client, daemon, busybox, runtime):
    cid, _ = new_container(client, busybox, ["sleep", "1000"], runtime)
    run_task(client, cid)
    shim = shim_pid(daemon, cid)
    try:
        argv = cmdline(shim)
        assert os.path.basename(argv[0]) == "berth-shim" and argv[1:3] == ["--id", cid]
        # the arguments the berth-shim command takes for this very shim
        options = parse_args(argv[1:])
        assert (options.id, options.bundle) == (cid, os.path.join(daemon.state, "tasks", cid))
        assert ps(shim, "args").split()[1:3] == ["--id", cid]
        assert os.path.basename(ps(shim, "args").split()[0]) == "berth-shim"
        assert ps(shim, "comm") == "berth-shim"
        # still a fork of the warm fork server, not a new `berth-shim` process
        helper = fork_server(daemon)
        with open(f"/proc/{helper}/cmdline", "rb") as f:  # its title: the tail of what it was exec'd with
            length = len(f.read()) + len(ENTRY) + 20  # and the entry, its fd and ppid before
        born = born_with(helper, length)
        assert ENTRY.encode() + b"\0" in born and born_with(shim, length) == born
    finally:
        finish(client, cid)


def test_the_fork_server_reads_apart_from_the_grpc_server(daemon):
    helper = fork_server(daemon)
    service, argv = cmdline(daemon.proc.pid), cmdline(helper)
    assert os.path.basename(argv[0]) == "berth-containerd" and argv[1] == "fork-server"
    assert argv[2:] == service[2:]  # [python3, .../berth-containerd, --address, ...]
    assert ps(helper, "comm") == "berth-forksrv"
    assert ps(helper, "args").split()[1:3] == ["fork-server", "--address"]
    assert ps(helper, "args") != ps(daemon.proc.pid, "args")


def test_the_fork_server_imports_no_threading():
    """Its heap is every shim's baseline, and with threading imported each fork would run
    threading's after-fork hook: a few hundred KiB of shared pages copied into each shim.

    prepare() is all the helper does before its loop: main's and serve's imports, the
    warm-up, the pools' ballast."""
    probe = ("import sys; from berth.containerd.runtime.forkhelper import prepare; prepare(['probe']); "
             "print(' '.join(m for m in ('threading', 'logging', 'subprocess', 'grpc') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def _helper(cwd: str) -> tuple[socket.socket, subprocess.Popen[bytes]]:
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with child:
        proc = subprocess.Popen(helper_command(child.fileno(), ["probe"]), cwd=cwd, stdin=subprocess.DEVNULL,
                                pass_fds=(child.fileno(),))
    parent.settimeout(60)
    return parent, proc


def test_the_fork_server_imports_nothing_from_its_working_directory(tmp_path):
    """berthd's (so berth-containerd's) working directory is anyone's: a json.py there
    must not run as root in the helper, as `python -c` would have it (cwd first on sys.path)."""
    marker = tmp_path / "imported"
    (tmp_path / "json.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    parent, proc = _helper(str(tmp_path))
    try:
        # its answer (no shim from no options) comes once it has made all its imports
        parent.send(json.dumps({"seq": 7, "options": {}}).encode())
        while "seq" not in (answer := json.loads(parent.recv(MAX_MSG))):
            pass  # READY
        assert answer["seq"] == 7 and answer["kind"] == "internal"
    finally:
        parent.close()
        assert proc.wait(timeout=60) == 0
    assert not marker.exists()


def test_a_fork_server_that_fails_says_why_on_its_stderr():
    """berth-containerd's log: or every create falls back to the berth-shim command unexplained."""
    argv = helper_command(0, ["probe"])
    argv[argv.index(ENTRY) + 1] = "not-a-fd"
    failed = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1
    assert 'level=error msg="fork server failed, shims start as berth-shim"' in failed.stderr
    assert "Traceback" in failed.stderr and "ValueError: invalid literal for int()" in failed.stderr


def test_a_fork_server_never_ready_leaves_creates_to_the_command(scratch):
    """A helper stuck before its ready message (a warm-up that hangs) holds a create only
    as long as it is given, is sent nothing (it might still create later), and once gone
    is reaped, not left defunct under berth-containerd."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    stuck = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL)  # never says READY
    fork = ForkServer(parent, stuck, ready_within=0.5)
    try:
        bundle = rootfs.make_bundle(os.path.join(scratch, "b"), ["true"])
        req = ShimOptions("c" + uuid.uuid4().hex[:8], bundle, "/usr/sbin/runc", os.path.join(scratch, "rt"), "")
        spawned = fork.spawn(req)  # through the berth-shim command
        assert alive(spawned.pid) and spawned.container_pid > 0
        assert shim_client.call(spawned.socket_path, {"op": "state"}, timeout=30)["status"] == "created"
        shim_client.call(spawned.socket_path, {"op": "delete"}, timeout=30)
        child.setblocking(False)
        with pytest.raises(BlockingIOError):
            child.recv(MAX_MSG)
        stuck.kill()
        child.close()  # the helper's end, as when it exits: the reader reaps it
        assert fork.ended.wait(60)
        assert stuck.returncode == -signal.SIGKILL and not os.path.exists(f"/proc/{stuck.pid}")
    finally:
        if stuck.returncode is None:
            stuck.kill()
            stuck.wait()
        child.close()
        fork.close()


def test_ps_lists_no_shim_as_berth_containerd(client, daemon, busybox):
    """Whoever stops "berth-containerd" by the pids ps lists must not stop its containers."""
    cid, _ = new_container(client, busybox, ["sleep", "1000"])
    run_task(client, cid)
    try:
        listed = subprocess.run(["ps", "-eww", "-o", "pid=,args="], capture_output=True, text=True, check=True).stdout
        ours = {int(line.split()[0]) for line in listed.splitlines()
                if "berth-containerd" in line and daemon.address in line}
        assert ours == {daemon.proc.pid, fork_server(daemon)}
        assert shim_pid(daemon, cid) not in ours
    finally:
        finish(client, cid)


def test_nothing_is_left_defunct_under_the_fork_server(client, daemon, busybox):
    helper = fork_server(daemon)
    for runtime in RUNTIMES:
        cid, _ = new_container(client, busybox, ["true"], runtime)
        run_task(client, cid)
        assert client.tasks.Wait(pb.TaskRequest(id=cid), timeout=60).exit_status == 0
        finish(client, cid)
    # each start had a worker of its own; once they have all ended, none is a zombie
    wait_until(lambda: not any(alive(p) for p in children_of(helper)), "the fork server's workers end")
    assert children_of(helper) == set()
