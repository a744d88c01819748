"""`logs -f` and attach are pushed by the kernel (inotify on the json-file log), not polled.

The containers here go quiet on a FIFO inside their own root (`/proc/PID/root/tmp/go`),
which the test writes when it wants the next line: that is how a story gets "a line
after a long idle", and an idle window in which berthd's CPU time can be read.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import queue
import socket
import struct
import subprocess
import termios
import threading
import time

import httpx
from tests.daemon.conftest import Berthd, wait_until
from tests.daemon.rawhttp import read_head

# Prints ticks until told to be quiet (so a client can show it is attached), then waits
# on a FIFO and says what came through it.
_WAITER = ('mkfifo /tmp/go; while [ ! -e /tmp/quiet ]; do echo tick; sleep 0.05; done; '
           'echo quiet; read x < /tmp/go; echo "after $x"')


class _Lines:
    """A child's stdout, read line by line in a thread so the test never blocks on it."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True)
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def until(self, wanted: str, timeout: float = 30) -> bool:
        """Read until the line `wanted` came (True) or the output ended (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._q.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                return False
            self.lines.append(line)
            if line == wanted:
                return True
        return False

    def rest(self, timeout: float = 60) -> int:
        """Everything up to the end of the output; the exit status."""
        while self.until("\0never\0", timeout):
            pass
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def _cpu_ticks(pid: int) -> int:
    """utime + stime of the whole process (all threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _fds(pid: int) -> dict[str, str]:
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


def _inotify_fds(pid: int) -> int:
    return sum(1 for target in _fds(pid).values() if target == "anon_inode:inotify")


def _in_root(berthd: Berthd, name: str, path: str) -> str:
    with berthd.client() as c:
        pid = c.get(f"/containers/{name}/json").json()["State"]["Pid"]
    return f"/proc/{pid}/root{path}"


def _quiet(berthd: Berthd, name: str) -> None:
    open(_in_root(berthd, name, "/tmp/quiet"), "w").close()


def _say(berthd: Berthd, name: str, text: str, fifo: str = "/tmp/go") -> None:
    """Writes a line to the FIFO the container waits on (once it is reading it). A FIFO
    is used once: a reader opening it again before this close would read EOF."""
    path = _in_root(berthd, name, fifo)

    def opened() -> int | None:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: the container has not opened it yet
            return None

    fd = wait_until(opened)
    assert fd is not None, "the container never read its FIFO"
    os.write(fd, text.encode() + b"\n")
    os.close(fd)


def _remove(berthd: Berthd, name: str) -> None:
    berthd.docker("rm", "-f", name)


def _hijacked_attach(berthd: Berthd, name: str) -> tuple[socket.socket, bytes]:
    """docker's attach protocol by hand: the request, then the 101 and its headers;
    returns the socket and what came after them."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(berthd.sock)
    s.sendall(f"POST /v1.45/containers/{name}/attach?stream=1&stdout=1&stderr=1&logs=1 HTTP/1.1\r\n"
              "Host: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n".encode())
    head, rest = read_head(s)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s, rest


def _read_until(s: socket.socket, buf: bytes, wanted: bytes | None) -> bytes:
    """More of a raw HTTP answer: until `wanted` is in it, or (None) until EOF."""
    while wanted is None or wanted not in buf:
        data = s.recv(65536)
        if not data:
            assert wanted is None, buf[-200:]
            return buf
        buf += data
    return buf


def _queued(fifo: str) -> int:
    """Bytes waiting in a FIFO (FIONREAD on a reader of our own, which reads nothing)."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
    finally:
        os.close(fd)


def test_a_line_after_a_long_idle_reaches_the_follower_and_the_attached_client(berthd: Berthd) -> None:
    name = "streams-idle"
    berthd.docker("run", "-d", "--name", name, "busybox", "sh", "-c", _WAITER, check=True)
    attached = _Lines(["docker", "attach", "--no-stdin", name], berthd.env)
    follower = _Lines(["docker", "logs", "-f", name], berthd.env)
    try:
        assert attached.until("tick") and follower.until("tick")
        _quiet(berthd, name)
        assert attached.until("quiet") and follower.until("quiet")
        time.sleep(3)  # a long idle: nothing is written, nothing should be sent
        _say(berthd, name, "ping")
        assert attached.rest() == 0 and follower.rest() == 0
        for client in (attached, follower):
            assert client.lines[-2:] == ["quiet", "after ping"], client.lines
            assert set(client.lines[:-2]) == {"tick"}, client.lines
        assert berthd.docker("inspect", "-f", "{{.State.Status}}", name).stdout.strip() == "exited"
    finally:
        attached.kill()
        follower.kill()
        _remove(berthd, name)


def test_an_idle_attached_container_costs_berthd_no_cpu(berthd: Berthd) -> None:
    name = "streams-cpu"
    berthd.docker("run", "-d", "--name", name, "busybox", "sh", "-c", _WAITER, check=True)
    clients = [_Lines(["docker", "attach", "--no-stdin", name], berthd.env),
               *(_Lines(["docker", "logs", "-f", name], berthd.env) for _ in range(7))]
    assert berthd.proc is not None
    pid = berthd.proc.pid
    try:
        assert all(c.until("tick") for c in clients)
        _quiet(berthd, name)
        assert all(c.until("quiet") for c in clients)
        time.sleep(0.5)  # the clients' last reads settle
        before = _cpu_ticks(pid)
        time.sleep(3)
        spent = _cpu_ticks(pid) - before
        # A measurement, not a timing. An idle berthd spends about 2 ms a second (uvicorn's
        # 10 Hz housekeeping), under a tick in this window; polling eight streams every
        # 50 ms spent more than 40 ms.
        assert spent <= 2, f"berthd used {spent} ticks while its attached container was idle"
        _say(berthd, name, "done")
        assert all(c.rest() == 0 for c in clients)
        assert all(c.lines[-1] == "after done" for c in clients)
    finally:
        for c in clients:
            c.kill()
        _remove(berthd, name)


def test_a_burst_right_before_the_exit_is_all_delivered_and_ends_the_stream(berthd: Berthd) -> None:
    name = "streams-burst"
    script = _WAITER.replace('echo "after $x"', 'seq 1 10000; echo "end $x"; exit 3')
    berthd.docker("run", "-d", "--name", name, "busybox", "sh", "-c", script, check=True)
    clients = [_Lines(["docker", "attach", "--no-stdin", name], berthd.env),
               *(_Lines(["docker", "logs", "-f", name], berthd.env) for _ in range(2))]
    try:
        assert all(c.until("tick") for c in clients)
        _quiet(berthd, name)
        assert all(c.until("quiet") for c in clients)
        _say(berthd, name, "x")
        statuses = [c.rest() for c in clients]
        assert statuses == [3, 0, 0]  # docker attach exits with the container's status
        for c in clients:
            tail = c.lines[c.lines.index("quiet") + 1:]
            assert tail == [str(i) for i in range(1, 10001)] + ["end x"], (len(tail), tail[-3:])
    finally:
        for c in clients:
            c.kill()
        _remove(berthd, name)


def test_a_client_going_away_frees_the_inotify_fd_and_the_log(berthd: Berthd, api: httpx.Client) -> None:
    name = "streams-leak"
    berthd.docker("run", "-d", "--name", name, "busybox", "sh", "-c", _WAITER, check=True)
    assert berthd.proc is not None
    pid = berthd.proc.pid
    log_path = api.get(f"/containers/{name}/json").json()["LogPath"]
    before = _fds(pid)
    assert _inotify_fds(pid) == 0
    try:
        _quiet(berthd, name)
        clients = [_Lines(["docker", "logs", "-f", name], berthd.env) for _ in range(2)]
        sock, early = _hijacked_attach(berthd, name)
        # All read: a clean close (EOF and hangup), not a reset that unread data would cause.
        _read_until(sock, early, b"quiet\n")
        assert all(c.until("quiet") for c in clients)
        attached = _Lines(["docker", "attach", "--no-stdin", name], berthd.env)
        assert wait_until(lambda: list(_fds(pid).values()).count(log_path) == 4)
        # One inotify instance serves every follower (the per-user limit is 128 instances).
        assert _inotify_fds(pid) == 1
        for c in [*clients, attached]:
            c.kill()
        sock.close()
        assert wait_until(lambda: len(_fds(pid)) == len(before)), set(_fds(pid).values()) - set(before.values())
        assert _inotify_fds(pid) == 0 and log_path not in _fds(pid).values()
        assert api.get(f"/containers/{name}/json").json()["State"]["Running"]  # the container goes on
    finally:
        _remove(berthd, name)
    assert wait_until(lambda: len(_fds(pid)) == len(before)), set(_fds(pid).values()) - set(before.values())


def test_a_log_moved_or_deleted_under_a_follower_crashes_nothing(berthd: Berthd, api: httpx.Client) -> None:
    name = "streams-rotate"
    script = "mkfifo /tmp/go2; " + _WAITER.replace('echo "after $x"', 'echo "after $x"; read y < /tmp/go2; echo "then $y"')
    berthd.docker("run", "-d", "--name", name, "busybox", "sh", "-c", script, check=True)
    log_path = api.get(f"/containers/{name}/json").json()["LogPath"]
    follower = _Lines(["docker", "logs", "-f", name], berthd.env)
    try:
        assert follower.until("tick")
        _quiet(berthd, name)
        assert follower.until("quiet")
        # Replaced: the shim (and the follower) keep the old file, which still grows.
        os.rename(log_path, log_path + ".1")
        open(log_path, "w").close()
        _say(berthd, name, "moved")
        assert follower.until("after moved")
        os.unlink(log_path + ".1")  # deleted: the kernel drops the watch; the exit still ends it
        _say(berthd, name, "deleted", "/tmp/go2")
        assert follower.rest() == 0
        assert follower.lines[-2:] == ["after moved", "then deleted"], follower.lines[-3:]
        assert api.get("/_ping").status_code == 200
        assert api.get(f"/containers/{name}/json").json()["State"]["Status"] == "exited"
    finally:
        follower.kill()
        _remove(berthd, name)


def test_stdin_the_container_reads_late_waits_for_room_and_arrives_whole(berthd: Berthd) -> None:
    name = "streams-stdin"
    data = os.urandom(1 << 20)
    proc = subprocess.Popen(["docker", "run", "-i", "--name", name, "busybox", "sh", "-c",
                             "mkfifo /tmp/go; read x < /tmp/go; md5sum"],
                            env=berthd.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None and stdout is not None
    threading.Thread(target=lambda: (stdin.write(data), stdin.close()), daemon=True).start()
    try:
        with berthd.client() as c:
            cid = wait_until(lambda: c.get(f"/containers/{name}/json").json().get("Id"))
        fifo = os.path.join(berthd.exec_root, "fifo", f"{cid}-stdin")
        # The container reads nothing yet: berthd's writes fill the FIFO and then wait for room.
        assert wait_until(lambda: os.path.exists(fifo) and _queued(fifo) >= 65536)
        _say(berthd, name, "go")
        assert proc.wait(60) == 0  # md5sum's one line fits in the pipe: wait, then read
        out = stdout.read().decode()
        assert out.split()[0] == hashlib.md5(data).hexdigest()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        _remove(berthd, name)


def test_more_followers_than_inotify_instances_each_get_every_line(berthd: Berthd) -> None:
    """150 followers: more than fs.inotify.max_user_instances (128) allows a user to have."""
    name = "streams-many"
    berthd.docker("run", "-d", "--name", name, "busybox", "sh", "-c", _WAITER, check=True)
    assert berthd.proc is not None
    pid = berthd.proc.pid
    socks: list[socket.socket] = []
    try:
        _quiet(berthd, name)
        bufs = []
        for _ in range(150):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(60)
            s.connect(berthd.sock)
            s.sendall(f"GET /v1.45/containers/{name}/logs?follow=1&stdout=1 HTTP/1.1\r\n"
                      "Host: berth\r\nConnection: close\r\n\r\n".encode())
            socks.append(s)
        bufs = [_read_until(s, b"", b"quiet\n") for s in socks]
        assert all(b.startswith(b"HTTP/1.1 200") for b in bufs)
        assert _inotify_fds(pid) == 1
        _say(berthd, name, "ping")
        bufs = [_read_until(s, b, None) for s, b in zip(socks, bufs, strict=True)]
        for b in bufs:  # the line, then the chunked body's end: the exit ended every stream
            assert b"after ping\n" in b and b.endswith(b"0\r\n\r\n"), b[-100:]
        assert wait_until(lambda: _inotify_fds(pid) == 0)
    finally:
        for s in socks:
            s.close()
        _remove(berthd, name)


def test_an_attached_client_that_half_closed_still_gets_the_output(berthd: Berthd) -> None:
    """Half-closing is how a client says its stdin ended (the docker CLI does it at EOF);
    unlike a close, it must not end the session."""
    name = "streams-half"
    berthd.docker("run", "-d", "--name", name, "busybox", "sh", "-c", _WAITER, check=True)
    try:
        _quiet(berthd, name)
        sock, early = _hijacked_attach(berthd, name)
        buf = _read_until(sock, early, b"quiet\n")
        sock.shutdown(socket.SHUT_WR)
        time.sleep(1)  # what a hangup would have ended is given the time to end
        _say(berthd, name, "ping")
        buf = _read_until(sock, buf, None)
        assert buf.endswith(b"\x01\x00\x00\x00\x00\x00\x00\x0bafter ping\n"), buf[-40:]
        sock.close()
    finally:
        _remove(berthd, name)
