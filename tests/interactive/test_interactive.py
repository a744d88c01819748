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


def _typed_until(term: Terminal, keys: str, answer: str) -> bool:
    """The CLI handles SIGWINCH on its own time: ask again until the new size shows."""
    term.type(keys)
    return term.expect(answer, timeout=0.5)


@pytest.mark.parametrize("cli", CLIS)
def test_a_shell_on_my_terminal_answers_and_exits_with_its_status(berthd: Berthd, cli: str) -> None:
    with Terminal([*argv(cli), "run", "-it", "--rm", "busybox", "sh"], env(berthd), rows=33, cols=101) as term:
        assert term.expect("# "), term.text
        term.type("echo $((6*7)); tty; stty size\r")
        assert term.expect("33 101"), term.text
        term.resize(41, 120)  # the user makes the window bigger: the container follows
        assert any(_typed_until(term, "stty size\r", "41 120") for _ in range(20)), repr(term.text)
        term.type("exit 3\r")
        status = term.wait()
    lines = term.text.splitlines()
    assert status == 3, term.text
    assert "42" in lines and "/dev/pts/0" in lines and "41 120" in lines, repr(term.text)
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


def test_my_terminal_is_given_back_as_it_was(berthd: Berthd) -> None:
    """Raw mode while attached, and the user's settings (echo, line editing) after."""
    script = f"stty -g > before; {BERTH} run -it --rm busybox sh -c 'stty size'; stty -g > after; cmp before after && echo SAME"
    with Terminal(["sh", "-c", f"cd {berthd.root} && {script}"], env(berthd), rows=24, cols=80) as term:
        status = term.wait()
    assert status == 0 and "24 80" in term.text and "SAME" in term.text, repr(term.text)
    for name in ("before", "after"):
        os.unlink(os.path.join(berthd.root, name))


@pytest.mark.parametrize("cli", CLIS)
def test_the_containers_terminal_is_born_with_my_size(berthd: Berthd, cli: str) -> None:
    """HostConfig.ConsoleSize: a command that asks at once need not wait for the first resize."""
    with Terminal([*argv(cli), "run", "-it", "--rm", "busybox", "stty", "size"], env(berthd), rows=27, cols=91) as term:
        status = term.wait()
    assert status == 0 and "27 91" in term.text.splitlines(), repr(term.text)
