"""berth for a machine's users, as README tells it: root runs scripts/install, adds a
user to the berth group, and that user, in a new login, uses berth without root."""

from __future__ import annotations

import os

from tests.host import alive
from tests.install.conftest import BERTH, BERTHD_PIDFILE, COMMANDS, PREFIX, ROOT, Install, read_pid, run_as

SOCKET_REFUSAL = ("permission denied while trying to connect to the berth daemon socket at "
                  "unix:///run/berth/berth.sock")


def test_the_install_runs_on_debians_python_not_roots_own(install: Install) -> None:
    # The interpreter the commands run on must be one every user may execute.
    assert os.path.realpath(f"{PREFIX}/venv/bin/python") == os.path.realpath("/usr/bin/python3")
    for cmd in COMMANDS:
        assert os.readlink(f"/usr/local/bin/{cmd}") == f"{PREFIX}/venv/bin/{cmd}"


def test_a_member_of_the_berth_group_uses_berth(install: Install, member: str) -> None:
    r = run_as(member, BERTH, "info")
    assert r.returncode == 0, r.stderr
    assert "Server Version: " in r.stdout
    r = run_as(member, BERTH, "run", "--rm", "hello-world")
    assert r.returncode == 0, r.stderr
    assert "Hello from berth!" in r.stdout


def test_a_user_outside_the_group_is_told_permission_denied(install: Install, outsider: str) -> None:
    # The words come from berth itself: the outsider may run the commands, not use the socket.
    r = run_as(outsider, BERTH, "info")
    assert r.returncode == 1
    assert SOCKET_REFUSAL in r.stderr
    r = run_as(outsider, BERTH, "run", "--rm", "hello-world")
    assert r.returncode == 125  # docker run's status for a failure of its own, not the container's
    assert SOCKET_REFUSAL in r.stderr


def test_installing_again_restarts_berthd_on_the_new_code_and_containers_carry_on(
        install: Install, member: str) -> None:
    r = run_as(member, BERTH, "run", "-d", "busybox", "sleep", "600")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    install.containers.append(cid)
    before = read_pid(BERTHD_PIDFILE)
    assert before is not None and alive(before)
    r = install.run()
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    after = read_pid(BERTHD_PIDFILE)
    assert after is not None and after != before and not alive(before)
    r = run_as(member, BERTH, "inspect", "-f", "{{.State.Running}}", cid)
    assert (r.returncode, r.stdout.strip()) == (0, "true"), r.stderr
    r = run_as(member, BERTH, "rm", "-f", cid)
    assert r.returncode == 0, r.stderr


def test_bash_completion_is_installed_and_completes_with_the_installed_berth(install: Install, member: str) -> None:
    path = "/usr/share/bash-completion/completions/berth"
    with open(path) as f, open(os.path.join(ROOT, "contrib", "completion", "bash", "berth")) as g:
        assert f.read() == g.read()
    script = (f". {path}; COMP_LINE='berth netw'; COMP_POINT=${{#COMP_LINE}}; COMP_WORDS=(berth netw); "
              "COMP_CWORD=1; _berth; printf '%s\\n' \"${COMPREPLY[@]}\"")
    r = run_as(member, "bash", "--norc", "--noprofile", "-c", script)
    assert (r.returncode, r.stdout, r.stderr) == (0, "network\n", "")
    r = run_as(member, "bash", "--norc", "--noprofile", "-c", script.replace("berth netw", "berth ps --no-t")
               .replace("(berth netw)", "(berth ps --no-t)").replace("COMP_CWORD=1", "COMP_CWORD=2"))
    assert r.stdout == "--no-trunc\n", r.stderr
