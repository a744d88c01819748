"""spawn(): start a shim that is not the caller's child, and learn whether its container was created.

The shim must survive whatever happens to its caller, so it is reparented to init
(or the nearest subreaper), in a session of its own. A caller that exits right after
(`disposable`: the fork server's worker) starts the new session itself and forks the
shim, which is reparented when the caller exits. Any other caller (the berth-shim
command) forks an intermediate child that starts the session, forks the shim and
exits at once; the caller reaps it. The shim reports over a pipe: one JSON line,
ready or the runtime's error. The caller must be single-threaded.
"""

from __future__ import annotations

import _signal
import json
import os

from berth.shim import libc, proctitle
from berth.shim.options import ShimError, ShimOptions, ShimProcess


def spawn(options: ShimOptions, *, disposable: bool = False) -> ShimProcess:
    """Start the shim for `options`; return once its container is created (not started).

    `disposable`: the caller exits right after this returns (the fork server's worker),
    so it may start the new session itself and fork the shim directly: the shim is
    reparented when the caller exits. One fork fewer, and the pages an intermediate
    child would have touched (CPython's after-fork work) are not the shim's to keep.
    """
    os.makedirs(options.bundle, exist_ok=True)
    ready_r, ready_w = os.pipe()
    if disposable:
        os.setsid()
        if os.fork() == 0:
            os.close(ready_r)
            _become_shim(options, ready_w)
        os.close(ready_w)
        try:
            answer = _read_line(ready_r)
        finally:
            os.close(ready_r)
        return _reply(options, answer)
    child = os.fork()
    if child == 0:  # intermediate child: never returns into the caller's code
        code = 1
        try:
            os.close(ready_r)
            os.setsid()
            if os.fork() == 0:
                _become_shim(options, ready_w)
            code = 0
        finally:
            os._exit(code)
    os.close(ready_w)
    try:
        os.waitpid(child, 0)
        answer = _read_line(ready_r)
    finally:
        os.close(ready_r)
    return _reply(options, answer)


def _reply(options: ShimOptions, answer: bytes) -> ShimProcess:
    if not answer:
        raise ShimError(f"shim for {options.id} exited before it was ready")
    reply = json.loads(answer)
    if "error" in reply:
        raise ShimError(reply["error"])
    return ShimProcess(pid=reply["pid"], socket_path=reply["socket"], container_pid=reply["container_pid"])


def _read_line(fd: int) -> bytes:
    """The shim's one report line; EOF first means it died before reporting.

    Not read to EOF: with the in-process runtime the container's init is forked
    from the shim and holds a copy of the pipe until it execs.
    """
    data = bytearray()
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _detach_from_caller(keep_fd: int) -> None:
    """Forget everything inherited from the (warm, arbitrary) caller but `keep_fd`."""
    # _signal, not signal: its wrappers make an enum member of every number they pass,
    # ~0.2 MiB of pages written in each shim for nothing.
    _signal.set_wakeup_fd(-1)
    # Ignored signals survive exec: the caller's (a shell's SIGQUIT, ...) must not
    # reach the container through us.
    for sig in _signal.valid_signals():
        if sig not in (_signal.SIGKILL, _signal.SIGSTOP) and sig < _signal.SIGRTMIN:
            _signal.signal(sig, _signal.SIG_DFL)
    _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)  # a client that hangs up must not kill the shim
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    # The caller's sockets and pipes must not be held open by a long-lived shim
    # (a reader of the caller's stdout would never see EOF, a restarted service
    # would find its old socket still referenced).
    os.closerange(3, keep_fd)
    os.closerange(keep_fd + 1, os.sysconf("SC_OPEN_MAX"))
    os.chdir("/")
    os.umask(0o022)


def _become_shim(options: ShimOptions, ready_fd: int) -> None:
    """The shim process: create the container, report, serve until deleted. Never returns."""
    code = 1
    shim = None
    try:
        _detach_from_caller(ready_fd)
        # Forked from a warm process, the shim would show up in ps as its caller
        # (berth-containerd's fork server, or the berth-shim command's interpreter).
        proctitle.set_title([proctitle.program("berth-shim"), *options.argv()], "berth-shim")
        from berth.shim.service import Shim

        shim = Shim(options)
        try:
            container_pid = shim.create()
        except Exception as e:  # noqa: BLE001 - reported to the caller, word for word
            _report(ready_fd, {"error": _one_line(e)})
            return
        _report(ready_fd, {"pid": os.getpid(), "socket": options.socket_path, "container_pid": container_pid})
        ready_fd = -1
        libc.trim()  # what create freed, back to the kernel
        shim.serve()
        code = 0
    except BaseException as e:  # noqa: BLE001 - the caller must hear something
        if ready_fd >= 0:
            _report(ready_fd, {"error": _one_line(e)})
    finally:
        if shim is not None:
            shim.close()
        os._exit(code)


def _report(fd: int, message: dict) -> None:
    try:
        os.write(fd, json.dumps(message).encode() + b"\n")
        os.close(fd)
    except OSError:
        pass  # already reported (the pipe is closed) or the caller went away


def _one_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[-1]
