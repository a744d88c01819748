"""Running a runtime binary (runc's command line) without the subprocess module.

subprocess imports threading, and a process that has imported threading runs
threading's after-fork hook in every os.fork() child: in the fork server that is
a few hundred KiB copied into each shim, and imported by a shim at its first runc
verb, subprocess and threading cost it over a MiB of its own. This is the little of
subprocess.run the shim needs: fork, set the child's fds and signals, exec.

Not posix_spawn: glibc's leaves its internal signals (32, 33) ignored in the child,
and ignored signals outlive exec into runc and the container.
"""

from __future__ import annotations

import os
import selectors
import signal

# As subprocess's restore_signals: the shim ignores SIGPIPE, and an ignored signal
# would stay ignored in runc and the container it starts.
_SIGDEF = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name))


def run(argv: list[str], stdio: tuple[int, int, int] | None = None) -> tuple[int, bytes, bytes]:
    """Run `argv` to its end: (exit status, stdout, stderr); as subprocess.run, it
    raises OSError (FileNotFoundError, ...) if it cannot be executed.

    With `stdio`, those fds are its stdin, stdout and stderr (nothing captured);
    without, stdin is /dev/null and stdout and stderr are captured. As subprocess's
    close_fds, it inherits no other fd of ours. A status is negative for a signal.
    The caller must be single-threaded (the child runs Python until it execs).
    """
    ours: list[int] = []
    outs: list[int] = []
    try:
        if stdio is None:
            null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            ours += [null, out_w, err_w]
            outs += [out_r, err_r]
            stdio = (null, out_w, err_w)
        fail_r, fail_w = os.pipe()  # close-on-exec: EOF at once when the exec succeeds
        ours += [fail_r, fail_w]
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            _child(argv, stdio, fail_w)
        for fd in ours:
            if fd != fail_r:
                os.close(fd)
        ours = [fail_r]
        failure = os.read(fail_r, 64)
        if failure:
            os.waitpid(pid, 0)
            errno = int(failure)
            raise OSError(errno, os.strerror(errno), argv[0]) if errno else OSError(argv[0])
        captured = _read_all(outs) if outs else [b"", b""]
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), captured[0], captured[1]
    finally:
        for fd in ours + outs:
            os.close(fd)


def _child(argv: list[str], stdio: tuple[int, int, int], fail_w: int) -> None:
    """Never returns: execs `argv`, or reports its errno on `fail_w` and exits 127."""
    errno = 0
    try:
        signal.set_wakeup_fd(-1)  # the shim's wake pipe is not ours to write
        copies = [os.dup(fd) for fd in stdio]  # dup2 onto 0 must not clobber a stdout that is fd 0
        for target, fd in enumerate(copies):
            os.dup2(fd, target)
        os.closerange(3, fail_w)
        os.closerange(fail_w + 1, os.sysconf("SC_OPEN_MAX"))
        for sig in _SIGDEF:
            signal.signal(sig, signal.SIG_DFL)
        os.execvpe(argv[0], argv, os.environ)
    except OSError as e:
        errno = e.errno or 0
    finally:
        try:
            os.write(fail_w, str(errno).encode())
        finally:
            os._exit(127)


def _read_all(fds: list[int]) -> list[bytes]:
    """Each fd read to EOF, side by side (either pipe may fill while the other is read)."""
    data = {fd: bytearray() for fd in fds}
    with selectors.DefaultSelector() as sel:
        for fd in fds:
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map():
            for key, _ in sel.select():
                chunk = os.read(key.fd, 65536)
                if chunk:
                    data[key.fd] += chunk
                else:
                    sel.unregister(key.fd)
    return [bytes(data[fd]) for fd in fds]
