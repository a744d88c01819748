"""Who may use the socket: root and members of the daemon's group, checked with real users."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
from tests.daemon.conftest import Berthd


@pytest.fixture
def users(berthd: Berthd):  # type: ignore[no-untyped-def]
    suffix = uuid.uuid4().hex[:6]
    member, outsider = f"bt-in-{suffix}", f"bt-out-{suffix}"
    subprocess.run(["useradd", "-M", "-G", berthd.group, member], check=True)
    subprocess.run(["useradd", "-M", outsider], check=True)
    try:
        yield member, outsider
    finally:
        for u in (member, outsider):
            subprocess.run(["userdel", u], capture_output=True)


def _curl(user: str, sock: str, path: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", "curl", "-s", "-w", "\n%{http_code}",
                           "--unix-socket", sock, f"http://berth{path}"], capture_output=True, text=True)


def test_socket_is_0660_root_and_the_group(berthd: Berthd) -> None:
    st = os.stat(berthd.sock)
    assert st.st_mode & 0o777 == 0o660 and st.st_uid == 0
    import grp
    assert grp.getgrgid(st.st_gid).gr_name == berthd.group


def test_a_group_member_can_use_docker(berthd: Berthd, users: tuple[str, str]) -> None:
    member, _ = users
    r = berthd.docker("version", user=member)
    assert r.returncode == 0, r.stderr
    assert "Server: berth" in r.stdout


def test_an_outsider_is_refused(berthd: Berthd, users: tuple[str, str]) -> None:
    _, outsider = users
    r = berthd.docker("ps", user=outsider)
    assert r.returncode != 0
    assert "permission denied" in r.stderr


def test_the_daemon_refuses_an_outsider_even_if_the_socket_mode_is_loosened(
        berthd: Berthd, users: tuple[str, str]) -> None:
    member, outsider = users
    os.chmod(berthd.sock, 0o666)
    try:
        body, _, code = _curl(outsider, berthd.sock, "/containers/json").stdout.rpartition("\n")
        assert code == "403"
        message = json.loads(body)["message"]
        assert message.startswith("permission denied") and outsider in message and berthd.group in message
        body, _, code = _curl(member, berthd.sock, "/_ping").stdout.rpartition("\n")
        assert (code, body) == ("200", "OK")
    finally:
        os.chmod(berthd.sock, 0o660)
