"""process.terminal: the pty master arrives over --console-socket, as runc sends it."""

from __future__ import annotations

import os
import socket
import uuid


def _read_until_eof(fd: int) -> bytes:
    """Everything the terminal shows until it closes (a hang fails after a minute, not forever)."""
    import select

    out = b""
    while True:
        if not select.select([fd], [], [], 60)[0]:
            raise AssertionError(f"terminal stayed open; so far: {out!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO once the slave side has gone
            break
        if not chunk:
            break
        out += chunk
    return out


def _run_on_tty(runtime, bundle_dir: str, tmp_path) -> tuple[bytes, str]:
    """create with a console socket; returns what the terminal showed and the pty name."""
    sock_path = str(tmp_path / f"console-{uuid.uuid4().hex[:6]}.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    cid = f"tty-{uuid.uuid4().hex[:8]}"
    try:
        runtime("create", "--bundle", bundle_dir, "--console-socket", sock_path, cid, check=True)
        conn, _ = server.accept()
        name, fds, _, _ = socket.recv_fds(conn, 1024, 1)
        conn.close()
        assert len(fds) == 1
        master = fds[0]
        runtime("start", cid, check=True)
        out = _read_until_eof(master)
        os.close(master)
        return out, name.decode()
    finally:
        server.close()


def test_terminal_is_a_pty_with_the_console_size(runtime, bundle, tmp_path):
    def edit(spec: dict) -> None:
        spec["process"]["terminal"] = True
        spec["process"]["consoleSize"] = {"height": 33, "width": 101}

    b = bundle(["sh", "-c", "tty; stty size; ls -l /dev/console | cut -c1-10; test -t 0 && echo stdin-is-tty"], edit=edit)
    out, name = _run_on_tty(runtime, b, tmp_path)
    assert name == "/dev/ptmx"  # what runc names the master
    assert out.replace(b"\r\n", b"\n") == b"/dev/pts/0\n33 101\ncrw--w----\nstdin-is-tty\n"


def test_terminal_without_console_socket_is_refused(runtime, bundle, cid):
    b = bundle(["true"], edit=lambda s: s["process"].update(terminal=True))
    out = runtime("create", "--bundle", b, cid)
    assert out.returncode == 1
    assert "cannot allocate tty if runc will detach without setting console socket" in out.stderr
    assert cid not in runtime.ids()


def test_foreground_run_with_a_terminal_proxies_the_pty(runtime, bundle, cid):
    """runc run without -d and without a console socket holds the pty itself (on its own terminal)."""
    import fcntl
    import pty
    import subprocess
    import termios

    b = bundle(["sh", "-c", "tty; read line; echo got $line; exit 3"],
               edit=lambda s: s["process"].update(terminal=True))
    master, slave = pty.openpty()
    proc = subprocess.Popen([runtime.binary, "--root", runtime.root, "run", "--bundle", b, cid],
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    try:
        os.write(master, b"hello\r")
        out = _read_until_eof(master)
        assert proc.wait(timeout=60) == 3, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    lines = out.replace(b"\r\n", b"\n").decode().splitlines()
    assert "/dev/pts/0" in lines and "got hello" in lines, lines
