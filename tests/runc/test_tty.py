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


def test_the_pty_slave_belongs_to_the_process_user_with_the_tty_group(runtimes, bundle, tmp_path):
    """runc chowns the process's stdio to its uid (fixStdioPermissions) and keeps the gid
    the kernel gave: 5, devpts's gid= of runc's default spec."""
    def edit(spec: dict) -> None:
        spec["process"]["terminal"] = True
        spec["process"]["user"] = {"uid": 1000, "gid": 1000}

    b = bundle(["sh", "-c", "stat -c '%u %g %a' $(tty) /dev/console; id"], edit=edit)
    seen = {name: _run_on_tty(rt, b, tmp_path)[0] for name, rt in runtimes.items()}
    assert seen["berth-runc"] == seen["runc"]
    assert seen["runc"].replace(b"\r\n", b"\n").startswith(b"1000 5 620\n1000 5 620\n"), seen["runc"]


def test_stdio_without_a_terminal_is_given_to_the_process_user_too(runtimes, bundle, cid):
    b = bundle(["sh", "-c", "stat -L -c %u /proc/self/fd/1 /proc/self/fd/2"],
               edit=lambda spec: spec["process"].update(user={"uid": 1000, "gid": 1000}))
    seen = {name: rt("run", "--bundle", b, cid) for name, rt in runtimes.items()}
    assert [(o.returncode, o.stdout) for o in seen.values()] == [(0, "1000\n1000\n")] * 2, seen


def _host_terminal() -> tuple[int, int]:
    """A pty pair standing for the user's terminal: (master, slave)."""
    import pty

    return pty.openpty()


def test_foreground_run_gives_the_containers_bytes_and_sets_the_terminal_as_runc(runtimes, bundle, tmp_path):
    """runc run on a terminal: the container's pty loses ONLCR (its "\\n" stays "\\n"
    where our stdout is a file), and our terminal is raw but keeps output processing
    (containerd/console's SetRaw), restored afterwards."""
    import fcntl
    import subprocess
    import termios
    import time

    # print only once the runtime has set the pty up (runc does it while the container runs)
    script = ("i=0; until stty -a 2>/dev/null | grep -q -- -onlcr || [ $i -gt 500 ]; do i=$((i+1)); sleep 0.02; done; "
              "printf 'a\\nb\\n'; read line; echo \"got $line\"")
    b = bundle(["sh", "-c", script], edit=lambda s: s["process"].update(terminal=True))
    seen = {}
    for name, rt in runtimes.items():
        cid = f"tty-{uuid.uuid4().hex[:8]}"
        master, slave = _host_terminal()
        before = termios.tcgetattr(slave)
        out_path = tmp_path / f"{name}.out"
        with open(out_path, "w+b") as out:
            proc = subprocess.Popen([rt.binary, "--root", rt.root, "run", "--bundle", b, cid],
                                    stdin=slave, stdout=out, stderr=slave, start_new_session=True,
                                    preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
            try:
                while proc.poll() is None and not out_path.read_bytes().endswith((b"b\n", b"b\r\n")):
                    time.sleep(0.02)
                during = termios.tcgetattr(slave)
                inner = os.open(f"/proc/{rt.state(cid)['pid']}/fd/0", os.O_RDWR | os.O_NOCTTY)
                inner_oflag = termios.tcgetattr(inner)[1]
                os.close(inner)
                os.write(master, b"go\r")
                code = proc.wait(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            after = termios.tcgetattr(slave)
            os.close(slave)
            os.close(master)
        seen[name] = (code, out_path.read_bytes(), during, bool(inner_oflag & termios.ONLCR), after == before)
    assert seen["berth-runc"] == seen["runc"]
    assert seen["runc"][1].startswith(b"a\nb\n") and seen["runc"][3:] == (False, True)


def test_foreground_run_with_a_terminal_needs_one_on_our_side(runtimes, bundle, cid):
    """No terminal on stdio and no controlling one: runc fails before making anything."""
    b = bundle(["true"], edit=lambda s: s["process"].update(terminal=True))
    seen = {}
    for name, rt in runtimes.items():
        out = rt("run", "--bundle", b, cid, start_new_session=True)
        seen[name] = (out.returncode, out.stderr.split("level=", 1)[-1], rt.ids())
    assert seen["berth-runc"] == seen["runc"] == (
        1, 'error msg="runc run failed: open /dev/tty: no such device or address"\n', [])
