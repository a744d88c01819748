"""The fork server: starts shims by forking a warm, single-threaded interpreter.

Forking the gRPC server itself is unsafe (its threads hold locks the child would
inherit held), and exec'ing `berth-shim` costs a fresh interpreter per task. So
main() starts this helper first (forkhelper.py: a fresh interpreter that imports
only berth.shim and berth.runc, so that its heap is what each shim starts from),
which serves spawn requests over a SOCK_SEQPACKET socketpair:
each request is one JSON message (a sequence number and the ShimOptions fields),
each answer one JSON message; each request runs in a worker forked for it. The shim
detaches itself in berth.shim.spawn, so it is never a child of berth-containerd.
The helper's first message says it is ready (warmed up); requests wait for it only
for a while (READY_WITHIN), and the helper, once gone, is reaped by the reader.

The helper names itself in ps (`berth-containerd fork-server ARGS`, comm
berth-forksrv), and each shim, a fork that would keep the helper's command line,
names itself `berth-shim --id ID ...` (berth.shim.proctitle): stopping
berth-containerd by the pids ps lists for it must not stop the containers.  The
helper ignores SIGCHLD, so the kernel reaps its finished workers at once: nothing
under it is left defunct between requests.

If the helper is not ready, is gone, or has no berth.shim.spawn, `spawn_command`
runs the `berth-shim` command with the same arguments instead.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from berth.shim import proctitle
from berth.shim.options import ShimOptions, ShimProcess

from ..errors import FailedPrecondition, Internal
from .forkhelper import MAX_MSG

SUBCOMMAND = "fork-server"  # ps: berth-containerd fork-server ARGS
# -c, not -m: runpy would import the module twice (as __main__ and by its name)
ENTRY = "from berth.containerd.runtime.forkhelper import main; main()"
# -P: no cwd (-c's "") or script directory first on sys.path, or the root helper would
# import a json.py from wherever berthd was started; unlike -I it keeps site, which
# a venv's (and an editable install's) berth needs
SAFE_PATH = "-P"
# How long after its start creates wait for the helper to be ready (it is in about a
# second); a helper stuck warming up must not hold every create.
READY_WITHIN = 15.0
_log = logging.getLogger("berth.containerd.forkserver")


class ForkServer:
    """The parent's handle. Requests carry a number; a reader thread hands each
    answer to its caller, so slow runtime creates do not queue behind each other.

    Requests go only once the helper has said it is ready (warmed up, serving): until
    READY_WITHIN after its start a create waits for that, afterwards it does not, and
    falls back to the berth-shim command while the helper is not ready (or is gone).
    """

    def __init__(self, sock: socket.socket, proc: subprocess.Popen[bytes],
                 ready_within: float = READY_WITHIN) -> None:
        self._sock = sock
        self._proc = proc
        self.pid = proc.pid
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._next = 0
        self.alive = True
        self._ready = threading.Event()
        self._ready_by = time.monotonic() + ready_within
        self.ended = threading.Event()  # the helper is gone and reaped
        threading.Thread(target=self._read, name="forkserver-reader", daemon=True).start()

    def spawn(self, req: ShimOptions) -> ShimProcess:
        if not self._ready.wait(max(0.0, self._ready_by - time.monotonic())):
            if self.alive:
                _log.warning("fork server (pid %d) not ready: shim for %s starts as berth-shim", self.pid, req.id)
            return spawn_command(req)
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
        pending.done.wait()  # a worker answers whatever happens, unless killed (then EOF)
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
                raw = self._sock.recv(MAX_MSG)
            except OSError:
                raw = b""
            if not raw:
                break
            answer = json.loads(raw)
            if "seq" not in answer:
                self._ready.set()  # READY, its one message without a seq
                continue
            with self._lock:
                pending = self._pending.pop(answer.pop("seq"), None)
            if pending:
                pending.answer = answer
                pending.done.set()
        # the helper is gone: every waiting caller falls back to the command
        with self._lock:
            self.alive = False
            pending_all, self._pending = list(self._pending.values()), {}
        self._ready.set()  # nobody waits for it any longer (alive is False)
        for pending in pending_all:
            pending.done.set()
        # Its end closes only when it exits (its workers, which share it, are gone by
        # then too): reaped here, or it stays defunct under berth-containerd.
        code = self._proc.wait()
        if code:
            _log.warning("fork server (pid %d) exited with status %d; shims start as berth-shim", self.pid, code)
        self.ended.set()

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
    """Start the helper (forkhelper.py, a fresh interpreter); call before any thread exists.

    The helper's command line is `berth-containerd fork-server ARGS`, `args` being
    (by default) this process's own, so ps tells which berth-containerd it belongs to.
    If its interpreter cannot even start, its end of the socket closes and every
    spawn falls back to the berth-shim command (ForkServer._read).
    """
    # No thread yet: PDEATHSIG, which the helper arms, fires when the *thread* that
    # started it exits, and that must be the main thread, which lives as long as we do.
    assert threading.active_count() == 1, "fork server must be started before any thread"
    title = [proctitle.program("berth-containerd"), SUBCOMMAND, *(sys.argv[1:] if args is None else args)]
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        proc = subprocess.Popen(helper_command(child.fileno(), title),
                                stdin=subprocess.DEVNULL, pass_fds=(child.fileno(),))
    except OSError as e:
        _log.warning("fork server: %s; shims start as berth-shim", e)
        parent.close()
        return None
    finally:
        child.close()
    return ForkServer(parent, proc)


def helper_command(fd: int, title: Sequence[str]) -> list[str]:
    """The helper's command line: it serves `fd` for this process and shows `title` in ps."""
    return [sys.executable, SAFE_PATH, "-c", ENTRY, str(fd), str(os.getpid()), *title]


def shim_command() -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "berth-shim")
    if os.access(exe, os.X_OK):
        return [exe]
    return [sys.executable, SAFE_PATH, "-m", "berth.shim.main"]  # -m too puts the cwd first


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
