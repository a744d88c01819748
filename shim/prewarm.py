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
import tempfile

from berth.common.files import write_json_atomic
from berth.common.timefmt import rfc3339_nano
from berth.shim import cgroup, jsonlog, protocol, unixsock
from berth.shim.options import ShimOptions
from berth.shim.process import Proc
from berth.shim.reaper import Reaper

_ROUNDS = 64  # more than the warm-up and the adaptive counters need to settle


def prewarm() -> None:
    """Exercise the loop's code paths; any failure only leaves them colder."""
    from berth.shim import libc

    libc.resolve()
    work = tempfile.mkdtemp(prefix="berth-prewarm-")
    try:
        _serve_requests(work)
        _logs_and_reaper(work)
        _cgroup_reads()
    except Exception:  # noqa: BLE001 - an optimisation: the shim works the same without it
        pass
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fake_shim(work: str) -> object:
    from berth.shim.service import Shim

    options = ShimOptions(id="prewarm", bundle=work, runtime="berth", runtime_root=work, log_path="")
    shim = Shim(options)
    shim.init = Proc(pid=os.getpid(), log=jsonlog.JsonLog(""))
    shim.started_at = rfc3339_nano()
    return shim


def _serve_requests(work: str) -> None:
    """The shim's loop, its socket server and the state op, as a client's requests go through them."""
    shim = _fake_shim(work)
    path = os.path.join(work, "p.sock")
    shim.server.listen(path)  # type: ignore[attr-defined]
    try:
        for _ in range(_ROUNDS // 8):
            client = unixsock.connect(path, timeout=5)
            with client:
                client.sendall(b'{"op": "state"}\n{"op": "state", "exec_id": "x"}\n{"op": "nope"}\n' * 8)
                got = bytearray()

                def answers(client: socket.socket = client, got: bytearray = got) -> None:
                    got += _recv_ready(client)
                    if got.count(b"\n") >= 24:
                        shim.deleted = True  # type: ignore[attr-defined]  # ends serve()

                shim.sel.register(client, selectors.EVENT_READ, answers)  # type: ignore[attr-defined]
                shim.deleted = False  # type: ignore[attr-defined]
                shim.serve()  # type: ignore[attr-defined]
                shim.sel.unregister(client)  # type: ignore[attr-defined]
                while protocol.next_line(got) is not None:
                    pass
    finally:
        for key in list(shim.sel.get_map().values()):  # type: ignore[attr-defined]
            if isinstance(key.fileobj, socket.socket):
                key.fileobj.close()
        shim.sel.close()  # type: ignore[attr-defined]
        for fd in (shim._wake_r, shim._wake_w):  # type: ignore[attr-defined]
            os.close(fd)


def _recv_ready(sock: socket.socket) -> bytes:
    sock.setblocking(False)
    try:
        return sock.recv(65536)
    except BlockingIOError:
        return b""
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
