"""`run -it`, `run -i`, `run -t`: a user's terminal and pipes, through berth's CLI and docker's.

Each story runs the real command on a real pty (or a real pipe) against the private
engine, so raw mode, window sizes, stdin's EOF and exit statuses are the ones a user
would see, end to end down to the shim's pty and stdin FIFO.
"""

from __future__ import annotations

import os
import subprocess
import sys

import docker
import pytest
from tests.daemon.conftest import Berthd, wait_until
from tests.interactive.terminal import Terminal

BERTH = os.path.join(os.path.dirname(sys.executable), "berth")
CLIS = ["berth", "docker"]


def argv(cli: str) -> list[str]:
    return [BERTH] if cli == "berth" else ["docker"]


def env(berthd: Berthd) -> dict[str, str]:
    return {**berthd.env, "BERTH_HOST": berthd.host, "TERM": "xterm"}


def fifos(berthd: Berthd) -> list[str]:
    d = os.path.join(berthd.exec_root, "fifo")
    return os.listdir(d) if os.path.isdir(d) else []


@pytest.mark.parametrize("cli", CLIS)
def test_a_shell_on_my_terminal_answers_and_exits_with_its_status(berthd: Berthd, cli: str) -> None:
    with Terminal([*argv(cli), "run", "-it", "--rm", "busybox", "sh"], env(berthd), rows=33, cols=101) as term:
        assert term.expect("# "), term.text
        term.type("echo $((6*7)); tty; stty size\r")
        assert term.expect("33 101"), term.text
        term.resize(41, 120)  # the user makes the window bigger: the container follows
        term.type("stty size; exit 3\r")
        status = term.wait()
    lines = term.text.splitlines()
    assert status == 3, term.text
    assert "42" in lines and "/dev/pts/0" in lines and "41 120" in lines, term.text
    assert wait_until(lambda: not fifos(berthd)), fifos(berthd)


@pytest.mark.parametrize("cli", CLIS)
def test_piped_input_reaches_the_container_and_its_end_ends_cat(berthd: Berthd, cli: str) -> None:
    r = subprocess.run([*argv(cli), "run", "-i", "--rm", "busybox", "cat"], input="hi\nthere\n",
                       env=env(berthd), capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, "hi\nthere\n"), r.stderr


@pytest.mark.parametrize("cli", CLIS)
def test_a_tty_needs_a_terminal_to_type_into(berthd: Berthd, cli: str) -> None:
    before = berthd.docker("ps", "-aq").stdout
    r = subprocess.run([*argv(cli), "run", "-it", "busybox", "true"], stdin=subprocess.DEVNULL,
                       env=env(berthd), capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "the input device is not a TTY" in r.stderr, r
    assert berthd.docker("ps", "-aq").stdout == before  # refused before anything was created


@pytest.mark.parametrize("cli", CLIS)
def test_a_tty_without_stdin_still_runs_as_docker_does(berthd: Berthd, cli: str) -> None:
    r = subprocess.run([*argv(cli), "run", "-t", "--rm", "busybox", "sh", "-c", "tty; echo out"],
                       stdin=subprocess.DEVNULL, env=env(berthd), capture_output=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, b"/dev/pts/0\r\nout\r\n"), r


def test_create_then_start_attached_with_stdin(berthd: Berthd) -> None:
    e = env(berthd)
    cid = subprocess.run([BERTH, "create", "-i", "busybox", "sh", "-c", "read x; echo got $x; exit 4"],
                         env=e, capture_output=True, text=True, check=True).stdout.strip()
    r = subprocess.run([BERTH, "start", "-ai", cid], input="it\n", env=e, capture_output=True, text=True,
                       timeout=60)
    assert (r.returncode, r.stdout) == (4, "got it\n"), r.stderr
    subprocess.run([BERTH, "rm", cid], env=e, capture_output=True, check=True)


def test_the_sdk_attaches_a_socket_to_a_tty_container(berthd: Berthd) -> None:
    sdk = docker.DockerClient(base_url=berthd.host, version="1.45")
    c = sdk.containers.run("busybox", "sh", stdin_open=True, tty=True, detach=True)
    try:
        sock = c.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        c.resize(height=20, width=50)
        sock._sock.sendall(b"echo $((6*7)); stty size; exit 3\n")
        out = b""
        while chunk := sock._sock.recv(65536):
            out += chunk
        sock.close()
        assert c.wait(timeout=30)["StatusCode"] == 3
        assert b"42\r\n" in out and b"20 50\r\n" in out, out
        assert b"42\r\n" in c.logs()  # a tty's log is the raw terminal output, no frames
    finally:
        c.remove(force=True)
        sdk.close()
    assert wait_until(lambda: not fifos(berthd)), fifos(berthd)
