"""docker exec against berthd: the real docker CLI, berth's own and the SDK, and the API.

The exec'd process must be in the container (its namespaces, its cgroup, its
capabilities), return its own status (docker's 126/127 when it cannot run), keep
stdout and stderr apart, and leave nothing behind once it has ended: no FIFO, no
log, no record in the shim.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator

import docker
import grpc
import httpx
import pytest
from tests.daemon.conftest import Berthd, private_berthd, run_container, wait_until
from tests.host import procs_files

from berth.proto import containerd_pb2 as pb
from berth.proto import containerd_pb2_grpc as rpc
from berth.runc.cgroups._proc import cgroup_mounts

BERTH = os.path.join(os.path.dirname(sys.executable), "berth")
CLIS = ["berth", "docker"]


def cli(berthd: Berthd, which: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    argv = [BERTH] if which == "berth" else ["docker"]
    env = {**berthd.env, "BERTH_HOST": berthd.host}
    return subprocess.run([*argv, *args], env=env, capture_output=True, text=True, input=input, timeout=60)


@pytest.fixture(scope="module")
def box(berthd: Berthd) -> str:
    with berthd.client() as api:
        cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "100000"], "User": "", "WorkingDir": "/"})
    yield cid
    with berthd.client() as api:
        api.delete(f"/containers/{cid}", params={"force": 1})


def _leftovers(berthd: Berthd) -> list[str]:
    found = []
    for sub in ("fifo", "exec"):
        d = os.path.join(berthd.exec_root, sub)
        found += [f for f in (os.listdir(d) if os.path.isdir(d) else []) if f.startswith("exec-") or sub == "exec"]
    return found


@pytest.mark.parametrize("which", CLIS)
def test_exit_statuses_are_the_processes_own(berthd: Berthd, box: str, which: str) -> None:
    assert cli(berthd, which, "exec", box, "true").returncode == 0
    assert cli(berthd, which, "exec", box, "false").returncode == 1
    assert cli(berthd, which, "exec", box, "sh", "-c", "exit 7").returncode == 7
    r = cli(berthd, which, "exec", box, "sh", "-c", "kill -9 $$")
    assert r.returncode == 137, r


@pytest.mark.parametrize("which", CLIS)
def test_a_command_that_cannot_run_is_docker_126_or_127(berthd: Berthd, box: str, which: str) -> None:
    r = cli(berthd, which, "exec", box, "nosuch")
    assert r.returncode == 127, r
    assert r.stdout.startswith("OCI runtime exec failed: ") and '"nosuch": executable file not found' in r.stdout, r
    r = cli(berthd, which, "exec", box, "/etc/passwd")
    assert r.returncode == 126 and "permission denied" in r.stdout, r
    r = cli(berthd, which, "exec", "-u", "nouser", box, "id")
    assert r.returncode == 126 and "unable to find user nouser: no matching entries in passwd file" in r.stdout, r
    assert wait_until(lambda: not _leftovers(berthd)), _leftovers(berthd)


@pytest.mark.parametrize("which", CLIS)
def test_output_streams_env_user_and_workdir(berthd: Berthd, box: str, which: str, tmp_path) -> None:
    r = cli(berthd, which, "exec", box, "sh", "-c", "echo out; echo err >&2")
    assert (r.stdout, r.stderr) == ("out\n", "err\n"), r
    env_file = tmp_path / "env"
    env_file.write_text("# a comment\nFROM_FILE=yes\n\n")
    r = cli(berthd, which, "exec", "-e", "A=1", "--env-file", str(env_file), "-u", "nobody", "-w", "/tmp", box,
            "sh", "-c", "echo $A $FROM_FILE $HOSTNAME; id -u; pwd")
    assert r.stdout.split() == ["1", "yes", box[:12], "65534", "/tmp"], r
    r = cli(berthd, which, "exec", "-t", box, "sh", "-c", "echo $TERM; tty")
    assert r.stdout.split() == ["xterm", "/dev/pts/0"], r


@pytest.mark.parametrize("which", CLIS)
def test_stdin_is_a_pipe_and_its_end_ends_cat(berthd: Berthd, box: str, which: str) -> None:
    r = cli(berthd, which, "exec", "-i", box, "cat", input="hi\nthere\n")
    assert (r.returncode, r.stdout) == (0, "hi\nthere\n"), r
    assert wait_until(lambda: not _leftovers(berthd)), _leftovers(berthd)


def _host_link(pid: int, what: str) -> str:
    return os.readlink(f"/proc/{pid}/{what}")


@pytest.mark.parametrize("which", CLIS)
def test_it_joins_every_namespace_and_the_cgroup_with_the_containers_capabilities(
        berthd: Berthd, box: str, which: str) -> None:
    with berthd.client() as api:
        init = api.get(f"/containers/{box}/json").json()["State"]["Pid"]
    r = cli(berthd, which, "exec", box, "sh", "-c",
            "for n in pid mnt uts ipc net; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup;"
            " grep CapEff /proc/self/status")
    lines = r.stdout.splitlines()
    assert lines[:5] == [_host_link(init, f"ns/{n}") for n in ("pid", "mnt", "uts", "ipc", "net")], r
    with open(f"/proc/{init}/cgroup") as f:
        assert lines[5:-1] == f.read().splitlines()
    with open(f"/proc/{init}/status") as f:
        init_caps = next(line for line in f if line.startswith("CapEff")).split()[1]
    assert lines[-1].split()[1] == init_caps
    privileged = cli(berthd, which, "exec", "--privileged", box, "grep", "CapEff", "/proc/self/status")
    with open("/proc/self/status") as f:
        ours = int(next(line for line in f if line.startswith("CapBnd")).split()[1], 16)
    # --privileged means every capability the engine itself has (its bounding set), as a
    # privileged container gets: on a host that lacks some, the exec still runs
    assert privileged.returncode == 0, privileged
    assert int(privileged.stdout.split()[1], 16) == ours, privileged


@pytest.mark.parametrize("which", CLIS)
def test_an_exec_is_in_top_and_in_every_cgroup_of_its_container(
        berthd: Berthd, api: httpx.Client, box: str, which: str) -> None:
    # the exec'd process joins by itself (v1 `tasks`, clone3 into the unified hierarchy)
    cmd = f"sleep {1001 + CLIS.index(which)}"
    assert cli(berthd, which, "exec", "-d", box, *cmd.split()).returncode == 0

    def pid() -> int | None:
        top = api.get(f"/containers/{box}/top", params={"ps_args": "-o pid,args"}).json()["Processes"]
        return next((int(p[0]) for p in top if p[1] == cmd), None)

    assert wait_until(lambda: pid() is not None)
    exec_pid = pid()
    try:
        init = api.get(f"/containers/{box}/json").json()["State"]["Pid"]
        files = procs_files(init)
        assert len(files) == len(set(cgroup_mounts().values())), files  # every hierarchy of the host
        for path in files:
            with open(path) as f:
                assert str(exec_pid) in f.read().split(), path
    finally:
        os.kill(exec_pid, 9)
    assert wait_until(lambda: pid() is None)


@pytest.mark.parametrize("which", CLIS)
def test_detached_exec_runs_in_the_background(berthd: Berthd, box: str, which: str) -> None:
    marker = f"/tmp/detached-{which}"
    r = cli(berthd, which, "exec", "-d", box, "sh", "-c", f"sleep 0.2; touch {marker}")
    assert (r.returncode, r.stdout) == (0, ""), r
    assert wait_until(lambda: cli(berthd, which, "exec", box, "test", "-e", marker).returncode == 0)


def test_refusals_are_dockers(berthd: Berthd, api: httpx.Client, box: str) -> None:
    r = cli(berthd, "docker", "exec", "nosuchcontainer", "true")
    assert r.returncode == 1 and "Error response from daemon: No such container: nosuchcontainer" in r.stderr
    cid = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["true"]}).json()["Id"]
    try:
        for which in CLIS:
            r = cli(berthd, which, "exec", cid, "true")
            assert r.returncode == 1 and f"Container {cid} is not running" in r.stderr, r
    finally:
        api.delete(f"/containers/{cid}")
    r = api.post(f"/containers/{box}/exec", json={"Cmd": []})
    assert (r.status_code, r.json()) == (400, {"message": "No exec command specified"})
    r = api.post(f"/containers/{box}/exec", json={"Cmd": ["true"], "DetachKeys": "foo"})
    assert (r.status_code, r.json()) == (400, {"message": "Invalid escape keys (foo) provided"})
    r = cli(berthd, "docker", "exec", "--detach-keys", "foo", box, "true")
    assert r.returncode == 1 and "Invalid escape keys (foo) provided" in r.stderr, r
    assert api.get("/exec/nope/json").json() == {"message": "No such exec instance: nope"}
    assert api.post("/exec/nope/start", json={"Detach": True}).status_code == 404


def test_the_api_inspects_a_running_then_finished_exec(api: httpx.Client, box: str) -> None:
    eid = api.post(f"/containers/{box}/exec", json={"Cmd": ["sh", "-c", "read x; exit 3"], "AttachStdin": True,
                                                    "User": "nobody"}).json()["Id"]
    before = api.get(f"/exec/{eid}/json").json()
    assert before["Running"] is False and before["ExitCode"] is None and before["Pid"] == 0
    assert before["ProcessConfig"] == {"tty": False, "entrypoint": "sh", "arguments": ["-c", "read x; exit 3"],
                                       "privileged": False, "user": "nobody"}
    assert before["ContainerID"] == box and before["OpenStdin"] is True
    sock = _hijack(api, f"/exec/{eid}/start", b'{"Detach":false,"Tty":false}')
    try:
        running = wait_until(lambda: api.get(f"/exec/{eid}/json").json()["Running"])
        assert running
        assert api.get(f"/exec/{eid}/json").json()["Pid"] > 0
        again = api.post(f"/exec/{eid}/start", json={"Detach": True})
        assert again.status_code == 409 and "is already running" in again.json()["message"]
        sock.sendall(b"go\n")
        assert wait_until(lambda: api.get(f"/exec/{eid}/json").json()["ExitCode"] == 3)
    finally:
        sock.close()
    after = api.get(f"/exec/{eid}/json").json()
    assert after["Running"] is False
    r = api.post(f"/exec/{eid}/start", json={"Detach": True})
    assert (r.status_code, r.json()["message"]) == (409, f"Error: Exec command {eid} has already run")


def _hijack(api: httpx.Client, path: str, body: bytes) -> socket.socket:
    """A raw hijacked POST, as the docker CLI sends it: headers and body, then the 101."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(api._transport._pool._uds)  # type: ignore[attr-defined]
    sock.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                 b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    sock.sendall(body)  # in its own packet: the daemon must wait for it
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def test_a_client_that_goes_away_leaves_the_container_and_nothing_else(
        berthd: Berthd, api: httpx.Client, box: str) -> None:
    """As with dockerd, a hangup is no kill; but stdin ends, so `cat` ends, and all of it goes."""
    eid = api.post(f"/containers/{box}/exec", json={"Cmd": ["cat"], "AttachStdin": True,
                                                    "AttachStdout": True}).json()["Id"]
    sock = _hijack(api, f"/exec/{eid}/start", b'{"Detach":false}')
    assert wait_until(lambda: api.get(f"/exec/{eid}/json").json()["Running"])
    pid = api.get(f"/exec/{eid}/json").json()["Pid"]
    sock.close()
    assert wait_until(lambda: api.get(f"/exec/{eid}/json").json()["ExitCode"] == 0)
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z")
    assert api.get(f"/containers/{box}/json").json()["State"]["Running"] is True
    assert wait_until(lambda: not _leftovers(berthd)), _leftovers(berthd)


def test_the_sdk_exec_run(berthd: Berthd, box: str) -> None:
    sdk = docker.DockerClient(base_url=berthd.host, version="1.45")
    try:
        c = sdk.containers.get(box)
        assert tuple(c.exec_run("sh -c 'echo out; echo err >&2; exit 5'")) == (5, b"out\nerr\n")
        assert c.exec_run("sh -c 'echo out; echo err >&2'", demux=True).output == (b"out\n", b"err\n")
        assert c.exec_run("tty", tty=True).output == b"/dev/pts/0\r\n"
        assert c.exec_run("pwd", workdir="/tmp", user="nobody").output == b"/tmp\n"
    finally:
        sdk.close()


@pytest.fixture(scope="module")
def patient() -> Iterator[tuple[Berthd, str]]:
    """A berthd of its own whose exited exec's DeleteProcess waits an hour for the attached
    session's end (BERTHD_EXEC_SESSION_END): one that comes sooner is the session's doing."""
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("BERTHD_EXEC_SESSION_END", "3600")
            d = stack.enter_context(private_berthd("berthd-exec-"))
        with d.client() as api:
            cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "100000"]})
        yield d, cid


def _shim_has(d: Berthd, cid: str, eid: str) -> bool:
    """Whether the container's shim still holds the exec (berthd's DeleteProcess ends that),
    asked of berth-containerd (the exec's Tasks.Get)."""
    with grpc.insecure_channel("unix:" + os.path.join(d.exec_root, "containerd.sock")) as ch:
        try:
            rpc.TasksStub(ch).Get(pb.TaskRequest(id=cid, exec_id=eid), wait_for_ready=True, timeout=30)
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.NOT_FOUND, e
            return False
    return True


def _payload(stream: bytes) -> bytes:
    """The output in a multiplexed stream, without its frames' headers."""
    out, at = b"", 0
    while at < len(stream):
        _kind, size = struct.unpack(">BxxxL", stream[at:at + 8])
        out, at = out + stream[at + 8:at + 8 + size], at + 8 + size
    return out


def test_the_shim_forgets_an_exec_once_its_session_has_ended(patient: tuple[Berthd, str]) -> None:
    d, box = patient
    with d.client() as api:
        def new() -> str:
            return api.post(f"/containers/{box}/exec", json={"Cmd": ["sh", "-c", "echo hi"],
                                                            "AttachStdout": True}).json()["Id"]

        hijacked = new()
        sock = _hijack(api, f"/exec/{hijacked}/start", b'{"Detach":false}')
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        sock.close()
        assert data == b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"
        streamed = new()
        r = api.post(f"/exec/{streamed}/start", json={"Detach": False})
        assert (r.status_code, r.content) == (200, b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n")
        detached = new()
        assert api.post(f"/exec/{detached}/start", json={"Detach": True}).status_code == 200
        for eid in (hijacked, streamed, detached):  # long before the bound
            assert wait_until(lambda eid=eid: api.get(f"/exec/{eid}/json").json()["ExitCode"] == 0)
            assert wait_until(lambda eid=eid: not _shim_has(d, box, eid))


def test_the_shim_keeps_an_exec_until_its_session_has_ended(patient: tuple[Berthd, str]) -> None:
    """A streamed start whose client reads none of the output yet: the exec exits, its
    session goes on (the response waits for the client), and so does the shim's record
    of it, past the whole life of an exec started after it; reading the rest ends both."""
    d, box = patient
    size = 4 << 20  # far more than the socket and the transport buffer
    with d.client() as api, d.client() as other:
        slow = api.post(f"/containers/{box}/exec", json={
            "Cmd": ["sh", "-c", f"head -c {size} /dev/zero | tr '\\000' x"], "AttachStdout": True}).json()["Id"]
        with api.stream("POST", f"/exec/{slow}/start", json={"Detach": False}) as r:
            assert r.status_code == 200
            assert wait_until(lambda: other.get(f"/exec/{slow}/json").json()["ExitCode"] == 0)
            quick = other.post(f"/containers/{box}/exec", json={"Cmd": ["true"]}).json()["Id"]
            assert other.post(f"/exec/{quick}/start", json={"Detach": True}).status_code == 200
            assert wait_until(lambda: not _shim_has(d, box, quick))  # its DeleteProcess is through
            assert _shim_has(d, box, slow)
            data = r.read()
        assert _payload(data) == b"x" * size
        assert wait_until(lambda: not _shim_has(d, box, slow))
