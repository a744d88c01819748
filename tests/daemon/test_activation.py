"""`berthd -H fd://`: the API socket systemd made (berth.socket), for real through
systemd-socket-activate, which passes sockets as systemd does (LISTEN_PID, LISTEN_FDS,
LISTEN_FDNAMES, fds from 3). The docker CLI and berth's own use it; the peer check
and the audit log apply as on berthd's own socket."""

from __future__ import annotations

import grp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator

import pytest
from tests.daemon.conftest import Berthd, _cleanup, wait_until

ACTIVATE = shutil.which("systemd-socket-activate") or "/usr/bin/systemd-socket-activate"
BERTH = os.path.join(os.path.dirname(sys.executable), "berth")
pytestmark = pytest.mark.skipif(not os.path.exists(ACTIVATE), reason="systemd-socket-activate is not installed")


def _engine() -> Berthd:
    root = tempfile.mkdtemp(prefix="berthd-fd-")
    os.chmod(root, 0o755)
    suffix = uuid.uuid4().hex[:8]
    return Berthd(root=root, group=f"berth-test-{suffix}", cgroup_parent=f"berth-test-{suffix}")


def _args(d: Berthd, host: str) -> list[str]:
    args = d.args()
    args[args.index("-H") + 1] = host
    return args


def _start(d: Berthd, listen: list[str], names: str, host: str) -> None:
    """berthd under systemd-socket-activate, which binds `listen` and execs berthd with them."""
    cmd = [ACTIVATE, *(f"--listen={path}" for path in listen), f"--fdname={names}", *_args(d, host)]
    with open(os.path.join(d.root, "berthd.log"), "ab") as log:
        d.proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    assert wait_until(d._answers, timeout=60), d.log_tail()


@pytest.fixture
def activated() -> Iterator[Berthd]:
    d = _engine()
    try:
        _start(d, [d.sock], "berth.socket", "fd://")
        yield d
    finally:
        _cleanup(d)


@pytest.fixture
def outsider() -> Iterator[str]:
    name = f"bt-fd-{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "-M", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def test_the_docker_cli_uses_the_socket_systemd_passed(activated: Berthd) -> None:
    d = activated
    r = d.docker("run", "--rm", "busybox", "echo", "through fd://")
    assert (r.returncode, r.stdout) == (0, "through fd://\n"), r.stderr
    r = subprocess.run([BERTH, "-H", d.host, "version"], capture_output=True, text=True)
    assert r.returncode == 0 and "Server:" in r.stdout, r.stderr
    log = d.log_tail()
    assert f"API listen on {d.sock}" in log
    assert "audit: uid=0" in log and "path=/v1.45/containers/create" in log  # the audit log applies


def test_the_peer_check_applies_to_an_inherited_socket(activated: Berthd, outsider: str) -> None:
    d = activated
    os.chmod(d.sock, 0o666)  # a loosened mode: berthd's own check is the lock left
    r = subprocess.run(["runuser", "-u", outsider, "--", "curl", "-s", "-w", "\n%{http_code}", "--unix-socket",
                        d.sock, "http://berth/containers/json"], capture_output=True, text=True)
    body, _, code = r.stdout.rpartition("\n")
    assert code == "403" and outsider in json.loads(body)["message"]


def test_the_variables_do_not_reach_berth_containerd(activated: Berthd) -> None:
    with open(f"/proc/{activated.containerd_pid()}/environ", "rb") as f:
        names = {item.split(b"=", 1)[0] for item in f.read().split(b"\0")}
    assert not names & {b"LISTEN_PID", b"LISTEN_FDS", b"LISTEN_FDNAMES"}


def test_the_socket_stays_when_berthd_stops(activated: Berthd) -> None:
    """systemd owns it: berth.socket keeps accepting while berthd restarts."""
    activated.stop()
    assert activated.proc is not None and activated.proc.returncode == 0
    assert os.path.exists(activated.sock)


def test_fd_name_takes_the_one_so_named_and_fd_number_dockers_form() -> None:
    d = _engine()
    other = os.path.join(d.root, "other.sock")
    try:
        _start(d, [other, d.sock], "other:api", "fd://api")
        assert d.docker("version").returncode == 0
        probe = subprocess.run(["curl", "-s", "--max-time", "2", "--unix-socket", other, "http://berth/_ping"],
                               capture_output=True, text=True)
        assert probe.stdout != "OK"  # passed, but not named: not served
        d.stop()
        _start(d, [other, d.sock], "other:api", "fd://4")
        assert d.docker("version").returncode == 0
    finally:
        _cleanup(d)


def test_fd_without_sockets_fails_with_dockerds_words() -> None:
    message = ("failed to load listeners: no sockets found via socket activation: "
               "make sure the service was started by systemd")
    d = _engine()
    try:
        r = subprocess.run(_args(d, "fd://"), capture_output=True, text=True, timeout=60)
        assert (r.returncode, r.stderr.strip().splitlines()[-1]) == (1, message)
        assert not os.path.exists(os.path.join(d.root, "berthd.pid"))  # nothing was started
    finally:
        _cleanup(d)


def test_a_name_or_number_not_passed_is_refused() -> None:
    d = _engine()
    try:
        for host, message in (("fd://nosuch", "failed to load listeners: no socket named 'nosuch' passed in by "
                                              "systemd (passed: api)"),
                              ("fd://7", "failed to load listeners: too few socket activated files passed in by "
                                         "systemd")):
            cmd = [ACTIVATE, f"--listen={d.sock}", "--fdname=api", *_args(d, host)]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            # systemd-socket-activate execs berthd on the first connection, once it listens
            def connected(proc: subprocess.Popen = proc) -> bool:
                subprocess.run(["curl", "-s", "--max-time", "5", "--unix-socket", d.sock, "http://berth/_ping"],
                               capture_output=True)
                return proc.poll() is not None

            wait_until(connected, timeout=60, interval=0.2)
            _, err = proc.communicate(timeout=60)
            assert (proc.returncode, err.strip().splitlines()[-1]) == (1, message)
    finally:
        _cleanup(d)


def test_the_group_of_the_socket_unit_lets_members_in(activated: Berthd) -> None:
    """berth.socket makes it 0660 root:berth (SocketMode, SocketGroup); berthd leaves it so."""
    d = activated
    os.chown(d.sock, 0, grp.getgrnam(d.group).gr_gid)
    os.chmod(d.sock, 0o660)
    st = os.stat(d.sock)
    assert st.st_mode & 0o777 == 0o660
    member = f"bt-fdm-{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "-M", "-G", d.group, member], check=True)
    try:
        r = d.docker("ps", user=member)
        assert r.returncode == 0, r.stderr
    finally:
        subprocess.run(["userdel", member], capture_output=True)
