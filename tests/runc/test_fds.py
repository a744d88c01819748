"""No descriptor of the caller reaches the container unless the spec names it.

The caller holds /dev/null, /etc/hostname, /etc/passwd and a host directory open,
inheritable, on fds nobody named. Under runc the created init holds only its own
exec fifo and pipes; so must berth-runc's, seen from the host (/proc/PID/fd), from
an attacker in the container (/proc/1/fd of a created container: a host directory
fd there is a way out of the rootfs), and from the process itself. The same for
exec, before its execve: the exec'd child is stopped there by making the
container's /etc/passwd a FIFO, which both runtimes open before they exec.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from typing import Iterator

import pytest


# what the runtime itself holds (runc: its Go runtime's epoll and pipes; both: sync pipes)
_RUNTIME_OWN = ("pipe:", "socket:", "anon_inode:")
# list the targets of a process's fds above stdio that are not the runtime's own
_FDS_OF_1 = ("cd /proc/1/fd && for f in *; do [ $f -gt 2 ] && readlink $f; done"
             " | grep -vE '^(pipe|socket|anon_inode):' | sed 's,.*/,,'")


@pytest.fixture
def extra_fds(tmp_path) -> Iterator[list[int]]:
    """Inheritable fds the caller holds and no spec names: three files and a host directory."""
    fds = [os.open(p, os.O_RDONLY) for p in ("/dev/null", "/etc/hostname", "/etc/passwd")]
    fds.append(os.open(str(tmp_path), os.O_RDONLY | os.O_DIRECTORY))
    for fd in fds:
        os.set_inheritable(fd, True)
    yield fds
    for fd in fds:
        os.close(fd)


def _identities(fds: list[int]) -> set[tuple[int, int]]:
    return {(st.st_dev, st.st_ino) for st in map(os.fstat, fds)}


def _callers_fds_in(pid: int, fds: list[int]) -> list[str]:
    """The fds above stdio of `pid` that are one of the caller's files, as 'N -> target'."""
    mine = _identities(fds)
    found = []
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            st = os.stat(f"/proc/{pid}/fd/{name}")
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if int(name) > 2 and (st.st_dev, st.st_ino) in mine:
            found.append(f"{name} -> {target}")
    return sorted(found)


def _named_fds_of(pid: int) -> list[str]:
    """The basenames of what `pid` holds above stdio, the runtime's anonymous fds left out."""
    names = []
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if int(name) > 2 and not target.startswith(_RUNTIME_OWN):
            names.append(os.path.basename(target))
    return sorted(names)


def _wait_stopped(runtime, cid: str) -> None:
    while runtime.state(cid)["status"] != "stopped":
        time.sleep(0.01)


def test_created_container_holds_none_of_the_callers_fds(runtime, bundle, cid, extra_fds, tmp_path):
    out_path = tmp_path / "out"
    b = bundle(["sh", "-c", "ls /proc/self/fd | tr '\\n' ' '"])
    with open(out_path, "wb") as out:
        subprocess.run([runtime.binary, "--root", runtime.root, "create", "--bundle", b, cid],
                       stdin=subprocess.DEVNULL, stdout=out, stderr=out, pass_fds=extra_fds, timeout=60, check=True)
    pid = runtime.state(cid)["pid"]
    # from the host: the init holds its exec fifo, and nothing of ours
    assert _callers_fds_in(pid, extra_fds) == []
    assert _named_fds_of(pid) == ["exec.fifo"]
    # from inside, as anything that joins the container before start would look
    seen = runtime("exec", cid, "sh", "-c", _FDS_OF_1)
    # runc's held init (an exec'd `runc init`) lets it list the fifo; berth-runc's stays
    # non-dumpable until its execve (the CVE-2019-5736 rule), so /proc/1/fd is closed to
    # it: either way nothing of the caller's shows
    assert seen.returncode == 0 and seen.stdout in ("exec.fifo\n", ""), seen
    # and the process itself: stdio, and ls's own directory fd
    runtime("start", cid, check=True)
    _wait_stopped(runtime, cid)
    assert out_path.read_text() == "0 1 2 3 "


def test_preserved_fds_stay_and_only_they(runtime, bundle, cid, extra_fds, tmp_path):
    """--preserve-fds N names fds 3..3+N-1: the init keeps those from create on, and no other."""
    secret = tmp_path / "secret"
    secret.write_text("through fd 3\n")
    out_path = tmp_path / "out"
    b = bundle(["sh", "-c", "cat <&3; ls /proc/self/fd | tr '\\n' ' '"])
    with open(out_path, "wb") as out:
        subprocess.run(["sh", "-c", f'exec 3<{secret}; exec "$@"', "sh", runtime.binary, "--root", runtime.root,
                        "create", "--preserve-fds", "1", "--bundle", b, cid],
                       stdin=subprocess.DEVNULL, stdout=out, stderr=out, pass_fds=extra_fds, timeout=60, check=True)
    pid = runtime.state(cid)["pid"]
    assert _callers_fds_in(pid, extra_fds) == []
    assert os.readlink(f"/proc/{pid}/fd/3") == str(secret)
    runtime("start", cid, check=True)
    _wait_stopped(runtime, cid)
    assert out_path.read_text() == "through fd 3\n0 1 2 3 4 "  # 4 is ls's own directory fd


@contextlib.contextmanager
def _passwd_as_fifo(rootfs: str) -> Iterator[None]:
    """The container's /etc/passwd becomes a FIFO: whoever opens it waits for our writer."""
    path = os.path.join(rootfs, "etc", "passwd")
    with open(path) as f:
        content = f.read()
    os.unlink(path)
    os.mkfifo(path)
    try:
        yield
    finally:
        os.unlink(path)  # a reader still blocked in open gets nothing: its caller fails, as it should
        with open(path, "w") as f:
            f.write(content)


def _feed(rootfs: str) -> None:
    """Let the process blocked on the FIFO through, with a passwd line for root."""
    with open(os.path.join(rootfs, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")


def _blocked_in_container(init_pid: int, caller: subprocess.Popen) -> int:
    """The process of the container's pid namespace, other than its init, blocked opening the FIFO."""
    target = os.stat(f"/proc/{init_pid}/ns/pid").st_ino
    while caller.poll() is None:
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == init_pid:
                continue
            try:
                if os.stat(f"/proc/{name}/ns/pid").st_ino != target:
                    continue
                waits = {open(f"/proc/{name}/task/{t}/wchan").read() for t in os.listdir(f"/proc/{name}/task")}
            except OSError:
                continue
            if waits & {"fifo_open", "wait_for_partner"}:  # the kernel's names for a FIFO open's wait
                return int(name)
        time.sleep(0.01)
    raise AssertionError(f"the exec ended before it opened /etc/passwd: {caller.returncode}")


def _rootfs(bundle_dir: str) -> str:
    with open(os.path.join(bundle_dir, "config.json")) as f:
        return os.path.join(bundle_dir, json.load(f)["root"]["path"])


def test_exec_holds_none_of_the_callers_fds_before_execve(runtime, bundle, cid, extra_fds, tmp_path):
    b = bundle(["sleep", "1000"], private_rootfs=True)
    rootfs = _rootfs(b)
    runtime("run", "-d", "--bundle", b, cid, check=True)
    init = runtime.state(cid)["pid"]
    out_path = tmp_path / "out"
    with _passwd_as_fifo(rootfs), open(out_path, "wb") as out:
        caller = subprocess.Popen([runtime.binary, "--root", runtime.root, "exec", cid, "sh", "-c",
                                   "ls /proc/self/fd | tr '\\n' ' '"],
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=out, pass_fds=extra_fds)
        try:
            child = _blocked_in_container(init, caller)
            # it has joined the container (its pid namespace, its mounts): ours must be gone
            leaked = _callers_fds_in(child, extra_fds)
            _feed(rootfs)
        finally:
            if caller.poll() is None:
                _feed_nonblocking(rootfs)  # fed already, or failed before: never leave it waiting
            caller.wait(timeout=60)
    assert leaked == []
    assert caller.returncode == 0, out_path.read_text()
    assert out_path.read_text() == "0 1 2 3 "


def _feed_nonblocking(rootfs: str) -> None:
    """Unblock a waiting reader if there is one; never wait for one."""
    try:
        fd = os.open(os.path.join(rootfs, "etc", "passwd"), os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.close(fd)


# The library, as berth-shim calls it: the fds to close are the caller's, in the child
# only; the caller keeps every one of them. The caller is a fresh interpreter with no
# other threads, as the shim is (a fork from pytest's threaded process could deadlock).

_LIBRARY_CREATE = """
import json, os, sys
from berth import runc
root, cid, bundle = sys.argv[1:4]
own = [os.open(p, os.O_RDONLY | os.O_CLOEXEC) for p in ("/dev/null", "/etc/hostname", "/etc/passwd")]
own.append(os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
inheritable = os.open("/etc/hostname", os.O_RDONLY)
os.set_inheritable(inheritable, True)
r, w = os.pipe()
null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
held = [list(os.fstat(fd)[1:3])[::-1] for fd in (*own, inheritable, r)]
pid = runc.create(root, cid, bundle, stdio=(null, w, w))
print(json.dumps({"pid": pid, "held": held}), flush=True)
sys.stdin.readline()  # the test has looked at the init
for fd in (*own, inheritable, r, w, null):
    os.fstat(fd)  # still ours
os.close(w)
runc.start(root, cid)
os.waitpid(pid, 0)
with os.fdopen(r, "rb") as f:
    out = f.read().decode()
runc.delete(root, cid, force=True)
print(json.dumps({"out": out}), flush=True)
"""


def test_library_create_closes_the_callers_fds_in_the_init_only(bundle, cid, tmp_path):
    root = str(tmp_path / "state")
    os.makedirs(root)
    b = bundle(["sh", "-c", "ls /proc/self/fd | tr '\\n' ' '"])
    caller = subprocess.Popen([sys.executable, "-c", _LIBRARY_CREATE, root, cid, b], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(caller.stdout.readline())
        pid, held = first["pid"], {tuple(x) for x in first["held"]}
        leaked = []
        for name in os.listdir(f"/proc/{pid}/fd"):
            try:
                st = os.stat(f"/proc/{pid}/fd/{name}")
            except OSError:
                continue
            if int(name) > 2 and (st.st_dev, st.st_ino) in held:
                leaked.append(name)
        assert leaked == []
        assert _named_fds_of(pid) == ["exec.fifo"]
        out, _ = caller.communicate("go\n", timeout=60)
        assert caller.returncode == 0
        assert json.loads(out)["out"] == "0 1 2 3 "
    finally:
        if caller.poll() is None:
            caller.kill()
            caller.wait()


_LIBRARY_EXEC = """
import json, os, sys
from berth import runc
root, cid = sys.argv[1:3]
own = [os.open(p, os.O_RDONLY | os.O_CLOEXEC) for p in ("/dev/null", "/etc/hostname", "/etc/passwd")]
own.append(os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
print(json.dumps([list(os.stat(f"/proc/self/fd/{fd}")[1:3]) for fd in own]), flush=True)
r, w = os.pipe()
null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
pid = runc.exec_process(root, cid, {"args": ["sh", "-c", "ls /proc/self/fd | tr '\\\\n' ' '"], "cwd": "/",
                                    "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}, stdio=(null, w, w))
os.close(w)
os.waitpid(pid, 0)
for fd in own:
    os.fstat(fd)  # the caller keeps its own
print(os.read(r, 4096).decode(), flush=True)
"""


def test_library_exec_closes_the_callers_fds_in_the_child_only(berth_runc, bundle, cid):
    b = bundle(["sleep", "1000"], private_rootfs=True)
    rootfs = _rootfs(b)
    berth_runc("run", "-d", "--bundle", b, cid, check=True)
    init = berth_runc.state(cid)["pid"]
    with _passwd_as_fifo(rootfs):
        caller = subprocess.Popen([sys.executable, "-c", _LIBRARY_EXEC, berth_runc.root, cid],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        try:
            held = {tuple(x) for x in json.loads(caller.stdout.readline())}
            child = _blocked_in_container(init, caller)
            found = []
            for name in os.listdir(f"/proc/{child}/fd"):
                with contextlib.suppress(OSError):
                    st = os.stat(f"/proc/{child}/fd/{name}")
                    if int(name) > 2 and (st.st_ino, st.st_dev) in held:
                        found.append(name)
            _feed(rootfs)
        finally:
            if caller.poll() is None:
                _feed_nonblocking(rootfs)
        out, _ = caller.communicate(timeout=60)
    assert found == []
    assert (caller.returncode, out) == (0, "0 1 2 3 \n")
