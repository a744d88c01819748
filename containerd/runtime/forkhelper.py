"""The fork server's own process: a fresh interpreter that holds only the shim.

berth-containerd execs it (forkserver.start) rather than forking itself: a fork
would carry everything the service had imported by then (logging, argparse,
threading, ...) into the heap every shim starts from, and with threading imported
each os.fork() runs its after-fork hook, whose writes copy a few hundred KiB of
shared pages into each shim. Here only what a shim needs is imported, nothing
imports threading (tests/containerd/test_forkserver.py checks), and the whole heap
is the shims' shared baseline.

    python3 -P -c 'from berth.containerd.runtime.forkhelper import main; main()' FD PPID TITLE...

FD is the SOCK_SEQPACKET end it serves (READY once it is warmed up, then an answer
per request), PPID the berth-containerd it belongs to, TITLE the command line it
shows in ps (`berth-containerd fork-server ARGS`). What goes wrong goes to its
stderr, which is berth-containerd's (its log).
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

from berth.shim import libc, proctitle

_PR_SET_PDEATHSIG = 1
MAX_MSG = 1 << 16
COMM = "berth-forksrv"
READY = b'{"ready": true}'  # the one message without a seq: warmed up, serving


def main() -> None:
    """Serve until berth-containerd closes its end or dies; never returns."""
    code = 1
    try:
        fd, ppid, title = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
        libc.LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != ppid:
            return  # berth-containerd died before the death signal was armed
        code = serve(socket.socket(fileno=fd), title)
    except BaseException:  # noqa: BLE001 - told, or every create falls back to berth-shim unexplained
        import traceback

        # our stderr is berth-containerd's (its log)
        print('level=error msg="fork server failed, shims start as berth-shim"', file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(code)


def serve(sock: socket.socket, title: list[str]) -> int:
    """The helper's loop: one worker fork per request, so requests run side by side.

    It ends when berth-containerd closes its end (or dies: PDEATHSIG). Each worker
    is single-threaded too, calls spawn (which detaches the shim), answers, exits.
    """
    spawn, ballast = prepare(title)  # noqa: F841 - ballast: kept alive while serving (pools.fill)
    sock.send(READY)  # berth-containerd's creates wait for it (for a while: ForkServer.spawn)
    while True:
        raw = sock.recv(MAX_MSG)
        if not raw:
            return 0
        msg = json.loads(raw)
        if os.fork() == 0:
            # SIGCHLD stays ignored: the worker forks the shim and never waits for it
            # (spawn's disposable path), and the shim resets every signal itself.
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


def prepare(title: list[str]) -> tuple[Callable[..., Any] | None, list[object]]:
    """Everything before the loop: title, signals, warm-up, frozen heap.

    Returns berth.shim.spawn (None if unavailable) and the pools' ballast, which the
    caller keeps alive while it forks: the shims allocate from fresh pools.

    Every import the helper makes is made by the time this returns (the heap each
    shim starts from: tests/containerd/test_forkserver.py checks that nothing in it
    imports threading).
    """
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
    ballast = pools.fill()
    gc.freeze()
    libc.trim()  # glibc's free heap pages back to the kernel
    return spawn, ballast


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
