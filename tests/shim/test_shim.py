"""berth-shim as berth-containerd uses it: spawn, talk over the socket, delete."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest
from tests.host import alive, cgroup_dirs, children_of
from tests.shim.conftest import Task, Workspace

from berth.common.files import read_json
from berth.common.timefmt import parse_rfc3339_nano
from berth.shim import ShimError, spawn
from berth.shim.client import ShimGone, ShimRequestError, call
from berth.shim.main import parse_args

pytestmark = pytest.mark.timeout(60)  # a hung shim fails its test instead of the session


def status_field(pid: int, name: str) -> str:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split()[1]
    raise KeyError(name)


def wait_for_output(task: Task, text: str) -> None:
    import time

    for _ in range(1000):
        if os.path.exists(task.options.log_path) and any(e["log"] == text for e in task.log_entries()):
            return
        time.sleep(0.01)
    raise AssertionError(f"{text!r} never reached the log")


def test_the_shim_is_not_a_child_of_its_caller_and_leaves_no_zombie(spawn_task) -> None:
    children_before = children_of(os.getpid())
    task = spawn_task(["sleep", "100"])

    assert int(status_field(task.shim.pid, "PPid")) != os.getpid()
    assert status_field(task.shim.pid, "State") != "Z"
    # The intermediate process was reaped by spawn: the test process has no new child,
    # not even a zombie (other tests of this session may have children of their own).
    assert children_of(os.getpid()) == children_before
    # The container's init is the shim's child (the shim is its subreaper), not runc's.
    assert int(status_field(task.shim.container_pid, "PPid")) == task.shim.pid
    assert int(open(os.path.join(task.options.bundle, "shim.pid")).read()) == task.shim.pid
    assert task.call("state")["status"] == "created"


def test_output_reaches_the_json_log_with_streams_and_times(spawn_task) -> None:
    task = spawn_task(["sh", "-c", "echo hello; echo oops >&2; echo '<b>&'; printf 'no newline'"])

    started = task.call("start")
    final = task.call("wait")

    entries = task.log_entries()
    by_stream = {s: [e["log"] for e in entries if e["stream"] == s] for s in ("stdout", "stderr")}
    assert by_stream == {"stdout": ["hello\n", "<b>&\n", "no newline"], "stderr": ["oops\n"]}
    started_ns, exited_ns = parse_rfc3339_nano(started["started_at"]), parse_rfc3339_nano(final["exited_at"])
    for entry in entries:
        assert started_ns <= parse_rfc3339_nano(entry["time"]) <= exited_ns
    # Docker's json-file escapes HTML characters as Go does.
    assert "\\u003cb\\u003e\\u0026" in open(task.options.log_path).read()


def test_a_long_line_is_split_into_16k_pieces_like_docker(spawn_task) -> None:
    task = spawn_task(["sh", "-c", "head -c 40000 /dev/zero | tr '\\0' x; echo"])
    task.call("start")
    task.call("wait")

    pieces = [e["log"] for e in task.log_entries()]
    assert [len(p) for p in pieces] == [16384, 16384, 40000 - 2 * 16384 + 1]
    assert "".join(pieces) == "x" * 40000 + "\n"


def test_exit_status_is_reported_and_persisted(spawn_task) -> None:
    task = spawn_task(["sh", "-c", "exit 3"])
    task.call("start")

    final = task.call("wait")

    assert (final["status"], final["exit_status"]) == ("stopped", 3)
    assert read_json(os.path.join(task.options.bundle, "exit.json")) == {
        "exit_status": 3, "exited_at": final["exited_at"], "oom_killed": False}
    # A container that has exited but was not deleted keeps its shim, and its answer.
    assert task.call("state") == final
    with pytest.raises(ShimRequestError) as err:
        task.call("kill", signal=9)
    assert err.value.code == "not_found"


def test_kill_9_gives_128_plus_9(spawn_task) -> None:
    task = spawn_task(["sleep", "100"])
    task.call("start")

    assert task.call("kill", signal=signal.SIGKILL) == {}

    assert task.call("wait")["exit_status"] == 137


def test_a_kill_of_an_init_that_exited_unreaped_is_not_found(spawn_task) -> None:
    """As runc's kill says of a container that is not running (and containerd's shim).

    Three requests in one write are handled in one turn of the shim's loop, which has
    not reaped the init killed by the first when the third comes: `pids` (a runtime
    child, waited for by its own pid) is long enough for it to have become a zombie,
    which kill(2) alone would signal without an error.
    """
    task = spawn_task(["sleep", "100"])
    task.call("start")
    kill = json.dumps({"op": "kill", "signal": signal.SIGKILL}).encode() + b"\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(task.shim.socket_path)
        sock.sendall(kill + b'{"op": "pids"}\n' + kill)
        with sock.makefile("rb") as answers:
            first, _, third = (json.loads(answers.readline()) for _ in range(3))
    assert first == {}
    assert third == {"error": "process already finished", "code": "not_found"}
    assert task.call("wait")["exit_status"] == 137


def test_many_clients_wait_at_once(spawn_task) -> None:
    task = spawn_task(["sh", "-c", "trap 'exit 7' TERM; echo ready; sleep 100 & wait"])
    task.call("start")
    wait_for_output(task, "ready\n")  # PID 1 ignores SIGTERM until the trap is set
    waiters = []
    for _ in range(4):
        s = socket.socket(socket.AF_UNIX)
        s.connect(task.shim.socket_path)
        s.sendall(b'{"op": "wait"}\n')
        waiters.append(s)
    # The shim still answers other requests while they wait.
    assert task.call("state")["status"] == "running"

    task.call("kill", signal=signal.SIGTERM)

    answers = []
    for s in waiters:
        with s, s.makefile("rb") as f:
            answers.append(json.loads(f.readline()))
    assert {a["exit_status"] for a in answers} == {7}
    assert all(a["status"] == "stopped" for a in answers)


def test_the_shim_survives_its_caller_being_killed(workspace: Workspace) -> None:
    options = workspace.options(["sh", "-c", "echo still here; read line"], stdin=True)
    # Spawn from a separate process that is then killed -9, like a crashing containerd.
    caller = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, json, time; from berth.shim import spawn, ShimOptions; "
         "s = spawn(ShimOptions(**json.loads(sys.argv[1]))); print(json.dumps(s.__dict__), flush=True); "
         "time.sleep(100)", json.dumps(options.__dict__)],
        stdout=subprocess.PIPE)
    answer = json.loads(caller.stdout.readline())
    caller.kill()
    caller.wait()
    caller.stdout.close()
    from berth.shim import ShimProcess

    task = workspace.adopt(options, ShimProcess(**answer))

    assert alive(task.shim.pid)
    assert task.call("start")["status"] == "running"
    assert task.call("pids")["pids"] == [task.shim.container_pid]  # `read` waits: stdin is held open
    wait_for_output(task, "still here\n")


def test_a_deep_bundle_path_still_gets_its_socket(workspace: Workspace) -> None:
    # sockaddr_un holds 108 bytes; containerd's state dirs plus 64-hex ids go past it.
    cid, shallow = workspace.bundle(["sh", "-c", "echo deep"])
    deep = os.path.join(workspace.dir, "d" * 100, cid)
    os.makedirs(os.path.dirname(deep))
    os.rename(shallow, deep)
    from berth.shim import ShimOptions

    options = ShimOptions(id=cid, bundle=deep, runtime=workspace.runtime, runtime_root=workspace.runtime_root,
                          log_path=os.path.join(workspace.dir, "deep.log"))
    task = workspace.adopt(options, spawn(options))
    assert len(task.shim.socket_path) > 108

    task.call("start")
    assert task.call("wait")["exit_status"] == 0
    assert task.log_entries()[0]["log"] == "deep\n"
    task.call("delete")


def test_delete_makes_the_shim_exit_and_leaves_nothing(spawn_task, workspace: Workspace) -> None:
    task = spawn_task(["sh", "-c", "echo bye"])
    task.call("start")
    task.call("wait")
    assert cgroup_dirs(task.cgroups_path)

    final = task.call("delete")

    assert (final["status"], final["exit_status"]) == ("stopped", 0)
    assert not alive(task.shim.pid) or _wait_gone(task.shim.pid)
    assert not alive(task.shim.container_pid)
    assert not os.path.exists(task.shim.socket_path)
    assert not os.path.exists(os.path.join(task.options.bundle, "shim.pid"))
    assert cgroup_dirs(task.cgroups_path) == []
    assert workspace.dir not in open("/proc/mounts").read()
    assert not os.path.exists(os.path.join(workspace.runtime_root, task.options.id))
    with pytest.raises(ShimGone):
        task.call("state")
    # What a restarted containerd would read is still there.
    assert read_json(os.path.join(task.options.bundle, "exit.json"))["exit_status"] == 0


def _wait_gone(pid: int) -> bool:
    """The shim answers delete, then exits: give it the moment it needs."""
    import time

    for _ in range(500):
        if not alive(pid):
            return True
        time.sleep(0.01)
    return False


def test_a_running_container_is_only_deleted_with_force(spawn_task) -> None:
    task = spawn_task(["sleep", "100"])
    task.call("start")

    with pytest.raises(ShimRequestError) as err:
        task.call("delete")
    assert err.value.code == "failed_precondition"

    final = task.call("delete", force=True)
    assert final["exit_status"] == 137
    assert cgroup_dirs(task.cgroups_path) == []


def test_a_missing_command_fails_with_the_runtimes_message(workspace: Workspace) -> None:
    options = workspace.options(["no-such-command"])
    children_before = children_of(os.getpid())

    with pytest.raises(ShimError) as err:
        spawn(options)

    assert 'exec: "no-such-command": executable file not found in $PATH' in str(err.value)
    assert not os.path.exists(options.socket_path)
    assert cgroup_dirs(workspace.cgroups[-1]) == []
    assert children_of(os.getpid()) == children_before


def test_exec_runs_a_process_with_its_own_log(spawn_task, workspace: Workspace) -> None:
    task = spawn_task(["sleep", "100"])
    task.call("start")
    exec_log = os.path.join(workspace.dir, "exec.log")
    process = {"args": ["sh", "-c", "echo from exec; exit 5"], "cwd": "/", "env": ["PATH=/bin"],
               "user": {"uid": 0, "gid": 0}, "terminal": False}

    pid = task.call("exec", exec_id="e1", process=process, log_path=exec_log)["pid"]

    assert task.call("wait", exec_id="e1")["exit_status"] == 5
    assert pid != task.shim.container_pid
    assert [json.loads(line)["log"] for line in open(exec_log)] == ["from exec\n"]
    assert task.call("state")["status"] == "running"


def test_a_terminal_container_logs_what_its_pty_shows(spawn_task) -> None:
    task = spawn_task(["sh", "-c", "tty; echo hi"], terminal=True)
    task.call("start")
    task.call("wait")

    text = "".join(e["log"] for e in task.log_entries())
    assert {e["stream"] for e in task.log_entries()} == {"stdout"}
    assert "/dev/pts/0" in text and "hi\r\n" in text  # the pty turns \n into \r\n, as in Docker


def test_the_berth_shim_command_prints_its_answer(workspace: Workspace) -> None:
    options = workspace.options(["true"])
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "berth-shim"), *options.argv()],
                         capture_output=True, text=True, check=True)
    from berth.shim import ShimProcess

    answer = json.loads(out.stdout)
    assert alive(answer["pid"]) and os.path.exists(answer["socket"])
    task = workspace.adopt(options, ShimProcess(answer["pid"], answer["socket"], answer["container_pid"]))
    task.call("start")
    assert task.call("wait")["exit_status"] == 0


def shim_argv(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().decode().split("\0")[:-1]


def test_the_shim_shows_in_ps_as_the_berth_shim_command_for_its_task(spawn_task) -> None:
    # spawned from this (pytest) process: a fork that would otherwise show as pytest
    task = spawn_task(["sleep", "100"], terminal=True)
    argv = shim_argv(task.shim.pid)
    assert os.path.basename(argv[0]) == "berth-shim" and argv[1:3] == ["--id", task.options.id]
    assert parse_args(argv[1:]) == task.options  # what the berth-shim command would take
    with open(f"/proc/{task.shim.pid}/comm") as f:
        assert f.read() == "berth-shim\n"
    task.call("start")  # it serves as before
    assert task.call("state")["status"] == "running"


def test_the_berth_shim_command_leaves_a_shim_named_alike(workspace: Workspace) -> None:
    options = workspace.options(["true"])
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "berth-shim"), *options.argv()],
                         capture_output=True, text=True, check=True)
    from berth.shim import ShimProcess

    answer = json.loads(out.stdout)
    workspace.adopt(options, ShimProcess(answer["pid"], answer["socket"], answer["container_pid"]))
    # not `python3 .../berth-shim ...`, the interpreter the command ran in
    assert shim_argv(answer["pid"]) == [os.path.join(os.path.dirname(sys.executable), "berth-shim"),
                                        *options.argv()]


def test_the_command_reports_errors_on_stderr(workspace: Workspace) -> None:
    options = workspace.options(["no-such-command"])
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "berth-shim"), *options.argv()],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert "executable file not found" in out.stderr
    assert out.stdout == ""


def test_a_vanished_shim_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ShimGone, match="gone"):
        call(str(tmp_path / "shim.sock"), {"op": "state"})


def test_the_container_does_not_inherit_ignored_signals(spawn_task) -> None:
    # Python (and so the shim) ignores SIGPIPE; a container that did too would make
    # `yes | head` spin instead of ending.
    task = spawn_task(["cat", "/proc/self/status"])
    task.call("start")
    task.call("wait")

    status = dict(e["log"].rstrip("\n").split(":\t", 1) for e in task.log_entries() if ":\t" in e["log"])
    assert status["SigIgn"] == "0000000000000000"
    assert status["SigBlk"] == "0000000000000000"
