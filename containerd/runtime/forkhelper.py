"""The fork server's own process: a fresh interpreter that holds only the shim.

berth-containerd execs it (forkserver.start) rather than forking itself: a fork
would carry everything the service had imported by then (logging, argparse,
threading, ...) into the heap every shim starts from, and with threading imported
each os.fork() runs its after-fork hook, whose writes copy a few hundred KiB of
shared pages into each shim. Here only what a shim needs is imported, nothing
imports threading (tests/containerd/test_forkserver.py checks), and the whole heap
is the shims' shared baseline.

    python3 -c 'from berth.containerd.runtime.forkhelper import main; main()' FD PPID TITLE...

FD is the SOCK_SEQPACKET end it serves, PPID the berth-containerd it belongs to,
TITLE the command line it shows in ps (`berth-containerd fork-server ARGS`).
Keep the imports here to the standard library's light modules and berth.shim.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
from typing import Any, Callable

from berth.shim import libc

_PR_SET_PDEATHSIG = 1
MAX_MSG = 1 << 16
COMM = "berth-forksrv"


def main() -> None:
    """Serve until berth-containerd closes its end or dies; never returns."""
    code = 1
    try:
        fd, ppid, title = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
        libc.LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != ppid:
            return  # berth-containerd died before the death signal was armed
        code = serve(socket.socket(fileno=fd), title)
    finally:
        os._exit(code)


def serve(sock: socket.socket, title: list[str]) -> int:
    """The helper's loop: one worker fork per request, so requests run side by side.

    It ends when berth-containerd closes its end (or dies: PDEATHSIG). Each worker
    is single-threaded too, calls spawn (which detaches the shim), answers, exits.
    """
    from berth.shim import proctitle

    proctitle.set_title(title, COMM)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Workers are reaped by the kernel the moment they exit (no zombie waits for
    # the next request); the helper never waits for one.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    spawn = warm()
    from berth.common import pools

    # Every object imported so far goes to the permanent generation: a collection in a
    # shim would otherwise write the gc header of each one it traverses, and each page
    # so touched becomes the shim's own copy (copy-on-write), megabytes per shim.
    gc.collect()
    ballast = pools.fill()  # noqa: F841 - kept alive while serving: the shims allocate from fresh pools
    gc.freeze()
    libc.trim()  # glibc's free heap pages back to the kernel
    while True:
        try:
            raw = sock.recv(MAX_MSG)
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


def warm() -> Callable[..., Any] | None:
    """Import what a shim runs and run it once: berth.shim.spawn, or None if unavailable."""
    spawn = _load_spawn()
    if spawn is not None:
        from berth.shim.prewarm import prewarm

        prewarm()  # the shims' loop code specialized here, in the pages they share
    return spawn


def _handle(spawn: Callable[..., Any] | None, options: dict[str, Any]) -> dict[str, Any]:
    if spawn is None:
        return {"error": "berth.shim.spawn is not available", "kind": "unavailable"}
    from berth.shim.options import ShimError, ShimOptions

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
        import traceback

        # berth-containerd's stderr (its log), in its line format, without logging's import
        print("level=error msg=\"fork server: berth.shim unavailable\"", file=sys.stderr)
        traceback.print_exc()
        return None
    return shim.spawn
