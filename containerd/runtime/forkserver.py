"""The fork server: starts shims by forking a warm, single-threaded interpreter.

Forking the gRPC server itself is unsafe (its threads hold locks the child would
inherit held), and exec'ing `berth-shim` costs a fresh interpreter per task. So
before any thread exists, main() forks this helper, which imports berth.shim and
berth.runc once and then serves spawn requests over a SOCK_SEQPACKET socketpair:
each request is one JSON message (a sequence number and the ShimOptions fields),
each answer one JSON message; each request runs in a worker forked for it. The shim
detaches itself in berth.shim.spawn, so it is never a child of berth-containerd.

Forks keep their parent's command line, so the helper names itself in ps
(`berth-containerd fork-server ARGS`, comm berth-forksrv) and each shim names
itself `berth-shim --id ID ...` (berth.shim.proctitle): stopping berth-containerd
by the pids ps lists for it must not stop the containers.  The helper ignores
SIGCHLD, so the kernel reaps its finished workers at once: nothing under it is
left defunct between requests.

If the helper or berth.shim.spawn is unavailable, `spawn_command` runs the
`berth-shim` command with the same arguments instead.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from berth.common import pools
from berth.shim import proctitle
from berth.shim.options import ShimOptions, ShimProcess

from ..errors import FailedPrecondition, Internal

_PR_SET_PDEATHSIG = 1
_MAX_MSG = 1 << 16
SUBCOMMAND = "fork-server"  # ps: berth-containerd fork-server ARGS
COMM = "berth-forksrv"


class ForkServer:
    """The parent's handle. Requests carry a number; a reader thread hands each
    answer to its caller, so slow runtime creates do not queue behind each other."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self._sock = sock
        self.pid = pid
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._next = 0
        self.alive = True
        threading.Thread(target=self._read, name="forkserver-reader", daemon=True).start()

    def spawn(self, req: ShimOptions) -> ShimProcess:
        pending = _Pending()
        with self._lock:
            if self.alive:
                self._next += 1
                seq = self._next
                self._pending[seq] = pending
                try:
                    self._sock.send(json.dumps({"seq": seq, "options": asdict(req)}).encode())
                except OSError:
                    self._pending.pop(seq, None)
                    self.alive = False
        if not self.alive and not pending.done.is_set():
            return spawn_command(req)
        pending.done.wait()
        answer = pending.answer
        if answer is None or answer.get("kind") == "unavailable":
            return spawn_command(req)
        if "error" in answer:
            if answer.get("kind") == "shim":
                raise FailedPrecondition(answer["error"])
            raise Internal(answer["error"])
        return ShimProcess(answer["pid"], answer["socket_path"], answer["container_pid"])

    def _read(self) -> None:
        while True:
            try:
                raw = self._sock.recv(_MAX_MSG)
            except OSError:
                raw = b""
            if not raw:
                break
            answer = json.loads(raw)
            with self._lock:
                pending = self._pending.pop(answer.pop("seq"), None)
            if pending:
                pending.answer = answer
                pending.done.set()
        # the helper is gone: every waiting caller falls back to the command
        with self._lock:
            self.alive = False
            pending_all, self._pending = list(self._pending.values()), {}
        for pending in pending_all:
            pending.done.set()

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    answer: dict[str, Any] | None = None


def start(args: Sequence[str] | None = None) -> ForkServer | None:
    """Fork the helper; call only while this process has a single thread.

    The helper's command line is `berth-containerd fork-server ARGS`, `args` being
    (by default) this process's own, so ps tells which berth-containerd it belongs to.
    """
    assert threading.active_count() == 1, "fork server must be started before any thread"
    title = [proctitle.program("berth-containerd"), SUBCOMMAND, *(sys.argv[1:] if args is None else args)]
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        parent.close()
        code = 1
        try:
            code = _serve(child, title)
        finally:
            os._exit(code)
    child.close()
    return ForkServer(parent, pid)


def _serve(sock: socket.socket, title: list[str]) -> int:
    """The helper's loop: one worker fork per request, so requests run side by side.

    It ends when berth-containerd closes its end (or dies: PDEATHSIG). Each worker
    is single-threaded too, calls spawn (which detaches the shim), answers, exits.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    proctitle.set_title(title, COMM)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Workers are reaped by the kernel the moment they exit (no zombie waits for
    # the next request); the helper never waits for one.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    spawn = _load_spawn()
    if spawn is not None:
        from berth.shim.prewarm import prewarm

        prewarm()  # the shims' loop code specialized here, in the pages they share
    # Every object imported so far goes to the permanent generation: a collection in a
    # shim would otherwise write the gc header of each one it traverses, and each page
    # so touched becomes the shim's own copy (copy-on-write), megabytes per shim.
    gc.collect()
    ballast = pools.fill()  # noqa: F841 - kept alive while serving: the shims allocate from fresh pools
    gc.freeze()
    from berth.common.malloc import trim
    trim()
    while True:
        try:
            raw = sock.recv(_MAX_MSG)
        except InterruptedError:
            continue
        if not raw:
            return 0
        msg = json.loads(raw)
        if os.fork() == 0:
            # spawn waits for its own intermediate child: that needs SIGCHLD's default back
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            code = 1
            try:
                answer = _handle(spawn, msg["options"])
                code = 0
            except BaseException as e:  # noqa: BLE001 - the caller must hear something, or it waits forever
                answer = {"error": f"spawn shim: {e!r}", "kind": "internal"}
            finally:
                try:
                    sock.send(json.dumps({**answer, "seq": msg["seq"]}).encode())
                finally:
                    os._exit(code)


def _handle(spawn: Callable[..., Any] | None, options: dict[str, Any]) -> dict[str, Any]:
    if spawn is None:
        return {"error": "berth.shim.spawn is not available", "kind": "unavailable"}
    from berth.shim.options import ShimError

    try:
        proc = spawn(ShimOptions(**options), disposable=True)
        return {"pid": proc.pid, "socket_path": proc.socket_path, "container_pid": proc.container_pid}
    except Exception as e:  # noqa: BLE001 — every failure must reach the caller as a message
        kind = "shim" if isinstance(e, ShimError) else "internal"
        msg = str(e) or type(e).__name__
        return {"error": msg if kind == "shim" else f"spawn shim: {msg}", "kind": kind}


def _load_spawn() -> Callable[..., Any] | None:
    """berth.shim.spawn, with everything a forked shim needs already imported."""
    try:
        import berth.shim as shim

        shim.preload()  # the shim's service and the runtime verbs (berth.runc)
    except Exception:  # noqa: BLE001 — then every request falls back to the berth-shim command
        logging.getLogger("berth.containerd.forkserver").exception("fork server: berth.shim unavailable")
        return None
    return shim.spawn


def shim_command() -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "berth-shim")
    if os.access(exe, os.X_OK):
        return [exe]
    return [sys.executable, "-m", "berth.shim.main"]


def spawn_command(req: ShimOptions) -> ShimProcess:
    """Fallback: `berth-shim ARGS`, which returns once the shim is ready (or failed)."""
    proc = subprocess.run([*shim_command(), *req.argv()], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        msg = lines[-1] if lines else f"berth-shim exited with status {proc.returncode}"
        raise FailedPrecondition(msg.removeprefix("berth-shim: "))
    try:
        answer = json.loads(proc.stdout.strip().splitlines()[-1])
        return ShimProcess(int(answer["pid"]), answer["socket"], int(answer["container_pid"]))
    except (IndexError, KeyError, ValueError) as e:
        raise Internal(f"berth-shim: unreadable answer: {e}") from None
