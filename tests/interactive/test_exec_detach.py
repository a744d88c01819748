"""`exec -it`, and detaching with Ctrl-P Ctrl-Q then attaching again, on a real terminal.

The stories run berth's CLI and the real docker CLI on a pty against the private
engine: the shell answers, follows the window, keeps its state across a detach, and
the client's status is docker's (0 after run's detach, 1 with "read escape sequence"
after attach's or exec's, else the process's own).
"""

from __future__ import annotations

import subprocess

import pytest
from tests.daemon.conftest import Berthd, wait_until
from tests.interactive.terminal import Terminal
from tests.interactive.test_interactive import CLIS, argv, env, fifos

DETACH = "\x10\x11"  # Ctrl-P Ctrl-Q


def _typed_until(term: Terminal, keys: str, answer: str) -> bool:
    term.type(keys)
    return term.expect(answer, timeout=0.5)


def _state(berthd: Berthd, name: str) -> str:
    return berthd.docker("inspect", "-f", "{{.State.Status}}", name).stdout.strip()


@pytest.mark.parametrize("cli", CLIS)
def test_exec_it_is_a_shell_in_the_running_container(berthd: Berthd, cli: str) -> None:
    name = f"exec-it-{cli}"
    berthd.docker("run", "-d", "--name", name, "busybox", "sleep", "100000", check=True)
    try:
        with Terminal([*argv(cli), "exec", "-it", name, "sh"], env(berthd), rows=33, cols=101) as term:
            assert term.expect("# "), term.text
            term.type("echo pid=$$; hostname; stty size\r")
            assert term.expect("33 101"), term.text
            term.resize(41, 120)
            assert any(_typed_until(term, "stty size\r", "41 120") for _ in range(20)), repr(term.text)
            term.type("exit 3\r")
            status = term.wait()
        assert status == 3, term.text
        assert "pid=1\r\n" not in term.text and "pid=" in term.text  # not the container's init
        cid = berthd.docker("inspect", "-f", "{{.Id}}", name).stdout.strip()
        assert cid[:12] in term.text.splitlines()
        assert _state(berthd, name) == "running"
    finally:
        berthd.docker("rm", "-f", name)


@pytest.mark.parametrize("cli", CLIS)
def test_detach_from_run_then_attach_again_to_the_same_shell(berthd: Berthd, cli: str) -> None:
    name = f"detach-{cli}"
    try:
        with Terminal([*argv(cli), "run", "-it", "--name", name, "busybox", "sh"], env(berthd)) as term:
            assert term.expect("# "), term.text
            term.type("KEPT=yes; echo pid=$$\r")
            assert term.expect("pid=1"), term.text
            term.type(DETACH)
            assert term.wait() == 0, term.text
        assert _state(berthd, name) == "running"
        with Terminal([*argv(cli), "attach", name], env(berthd)) as term:
            term.type("echo kept=$KEPT pid=$$\r")
            assert term.expect("kept=yes pid=1"), term.text
            term.type(DETACH)
            assert term.wait() == 1 and "read escape sequence" in term.text, term.text
        assert _state(berthd, name) == "running"
        with Terminal([*argv(cli), "attach", "--detach-keys", "ctrl-x,x", name], env(berthd)) as term:
            term.type("echo again\r")
            assert term.expect("again\r\n/ # "), term.text
            term.type("\x18x")
            assert term.wait() == 1 and "read escape sequence" in term.text, term.text
        with Terminal([*argv(cli), "attach", name], env(berthd)) as term:
            term.type("exit 3\r")
            assert term.wait() == 3, term.text
        assert wait_until(lambda: _state(berthd, name) == "exited")
        r = subprocess.run([*argv(cli), "attach", name], env=env(berthd), capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and "You cannot attach to a stopped container, start it first" in r.stderr, r
    finally:
        berthd.docker("rm", "-f", name)
    assert wait_until(lambda: not fifos(berthd)), fifos(berthd)


@pytest.mark.parametrize("cli", CLIS)
def test_detach_from_exec_leaves_its_shell_running(berthd: Berthd, cli: str) -> None:
    name = f"exec-detach-{cli}"
    berthd.docker("run", "-d", "--name", name, "busybox", "sleep", "100000", check=True)
    try:
        with Terminal([*argv(cli), "exec", "-it", name, "sh", "-c", "echo ready; exec sleep 4242"],
                      env(berthd)) as term:
            assert term.expect("ready"), term.text
            term.type(DETACH)
            assert term.wait() == 1 and "read escape sequence" in term.text, term.text
        top = berthd.docker("top", name).stdout
        assert "sleep 4242" in top, top
    finally:
        berthd.docker("rm", "-f", name)


@pytest.mark.parametrize("cli", CLIS)
def test_start_ai_of_a_stopped_container_takes_stdin(berthd: Berthd, cli: str) -> None:
    name = f"start-ai-{cli}"
    berthd.docker("create", "-i", "--name", name, "busybox", "sh", "-c", "read x; echo got $x; exit 4", check=True)
    try:
        for word in ("one", "two"):  # created, then exited: both times it gets what we type
            r = subprocess.run([*argv(cli), "start", "-ai", name], input=f"{word}\n", env=env(berthd),
                               capture_output=True, text=True, timeout=60)
            assert (r.returncode, r.stdout) == (4, f"got {word}\n"), r
    finally:
        berthd.docker("rm", "-f", name)
