"""Running the shim's everyday code in the fork server, before it freezes and forks.

CPython 3.11 rewrites a function's bytecode as it runs it: a warm-up count on each
call, then adaptive instructions whose counters and caches are written until they
settle (the specializing interpreter). In a forked shim each such write copies the
page the code object is on. Run here first, the loop's code (the socket server,
the protocol, the log writer, the reaper, the state and stats answers) is already
specialized in the pages every shim shares, and a shim that runs it writes far less.
Everything here is harmless: a private temp dir, pipes, the helper's own cgroup, read.
"""

from __future__ import annotations

import os
import selectors
import shutil
import socket
import sys
import tempfile
from typing import Any

from berth.common.files import write_json_atomic
from berth.common.timefmt import rfc3339_nano
from berth.shim import cgroup, jsonlog, protocol, unixsock
from berth.shim.options import ShimOptions
from berth.shim.process import Proc
from berth.shim.reaper import Reaper

_PREFIX = "berth-prewarm-"  # then the helper's pid: a dead helper's dir is swept (_sweep)
_ROUNDS = 64  # more than the warm-up and the adaptive counters need to settle
_REQUESTS = b'{"op": "state"}\n{"op": "state", "exec_id": "x"}\n{"op": "nope"}\n' * 8
_ANSWERS = _REQUESTS.count(b"\n")
# The loop's turns per connection before the warm-up gives up on it: one accepts, one
# reads and answers, one reads the answers; never reached unless something is wrong.
_MAX_TURNS = 64


class WarmupError(Exception):
    """The shim's loop did not go the way the warm-up drives it."""


def prewarm() -> bool:
    """Exercise the loop's code paths; False (and a log line) if they could not all run.

    A failure only leaves them colder: the shims work the same without it, so nothing
    here may raise, and nothing waits on anything that might not come.
    """
    work = None
    try:
        from berth.shim import libc

        libc.resolve()
        _sweep()
        work = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-")
        _serve_requests(work)
        _logs_and_reaper(work)
        _cgroup_reads()
        return True
    except Exception:  # noqa: BLE001 - an optimisation: the shim works the same without it
        _log_failure()
        return False
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def _sweep() -> None:
    """The temp dirs of warm-ups that never reached their finally: a fork server killed
    (kill -9 of berth-containerd's group) while it warmed up. Only a dead helper's."""
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        pid = name[len(_PREFIX):].partition("-")[0]
        if name.startswith(_PREFIX) and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"  # a zombie is ended
    except (FileNotFoundError, ProcessLookupError):
        return False


def _log_failure() -> None:
    import traceback

    # berth-containerd's stderr (its log), in its line format, without logging's import
    print('level=warning msg="fork server: warm-up failed, shims start colder"', file=sys.stderr)
    traceback.print_exc()
    sys.stderr.flush()


def _fake_shim(work: str) -> object:
    from berth.shim.service import Shim

    options = ShimOptions(id="prewarm", bundle=work, runtime="berth", runtime_root=work, log_path="")
    shim = Shim(options)
    shim.init = Proc(pid=os.getpid(), log=jsonlog.JsonLog(""))
    shim.started_at = rfc3339_nano()
    return shim


def _serve_requests(work: str) -> None:
    """The shim's loop, its socket server and the state op, as a client's requests go through them.

    The loop ends once the answers are in, at the client's EOF (the server dropped it),
    or after _MAX_TURNS of its turns: a byte left in a pipe it watches makes each turn
    return at once, so it never blocks on an answer that does not come.
    """
    shim = _fake_shim(work)
    path = os.path.join(work, "p.sock")
    tick_r, tick_w = os.pipe()
    try:
        os.write(tick_w, b".")
        shim.server.listen(path)  # type: ignore[attr-defined]
        for _ in range(_ROUNDS // 8):
            with unixsock.connect(path, timeout=5) as client:
                client.sendall(_REQUESTS)
                got = _serve_one(shim, client, tick_r)
            if (answered := got.count(b"\n")) < _ANSWERS:
                raise WarmupError(f"the shim's loop answered {answered} of {_ANSWERS} requests")
            while protocol.next_line(got) is not None:
                pass
    finally:
        for key in list(shim.sel.get_map().values()):  # type: ignore[attr-defined]
            if isinstance(key.fileobj, socket.socket):
                key.fileobj.close()
        shim.sel.close()  # type: ignore[attr-defined]
        for fd in (shim._wake_r, shim._wake_w, tick_r, tick_w):  # type: ignore[attr-defined]
            os.close(fd)


def _serve_one(shim: Any, client: socket.socket, tick_r: int) -> bytearray:
    """Run the shim's loop until `client` has its answers (or EOF, or the turns run out)."""
    got = bytearray()
    turns = 0

    def answers() -> None:
        data = _recv_ready(client)
        if data is None:
            return
        got.extend(data)
        if not data or got.count(b"\n") >= _ANSWERS:
            shim.deleted = True  # ends serve()

    def tick() -> None:
        nonlocal turns
        turns += 1
        if turns >= _MAX_TURNS:
            shim.deleted = True

    shim.sel.register(client, selectors.EVENT_READ, answers)
    shim.sel.register(tick_r, selectors.EVENT_READ, tick)
    try:
        shim.deleted = False
        shim.serve()
    finally:
        shim.sel.unregister(tick_r)
        shim.sel.unregister(client)
    return got


def _recv_ready(sock: socket.socket) -> bytes | None:
    """What `sock` has now: b"" at EOF, None if nothing after all."""
    sock.setblocking(False)
    try:
        return sock.recv(65536)
    except BlockingIOError:
        return None
    finally:
        sock.setblocking(True)


def _logs_and_reaper(work: str) -> None:
    """Output through the reaper into a json-file log, as a container prints."""
    sel = selectors.DefaultSelector()
    reaper = Reaper(sel, lambda proc: None)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    for fd in (out_r, err_r):
        os.set_blocking(fd, False)
    proc = Proc(pid=-1, log=jsonlog.JsonLog(os.path.join(work, "log.json")),
                outputs={out_r: "stdout", err_r: "stderr"})
    reaper.track(proc)
    try:
        for i in range(_ROUNDS):
            os.write(out_w, b"a line of output <&>\n" * (1 + i % 3) + b"partial")
            os.write(err_w, "\u00e9rror\n".encode())
            for key, _ in sel.select(0):
                key.data()
            reaper.reap()
            reaper.timeout()
            reaper.on_timeout()
        write_json_atomic(os.path.join(work, "exit.json"), {"exit_status": 0, "exited_at": rfc3339_nano()})
    finally:
        os.close(out_w)
        os.close(err_w)
        reaper.close()
        sel.close()


def _cgroup_reads() -> None:
    """The stats op's reads (every second while `stats` streams), on this helper's own cgroup."""
    paths = cgroup.locate(os.getpid())
    for _ in range(_ROUNDS // 4):
        cgroup.oom_kills(paths)
        cgroup.stats(paths)
