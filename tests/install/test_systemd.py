"""berthd as a system service: contrib/systemd/berth.service passes `systemd-analyze
verify`, and berthd speaks sd_notify as its Type=notify wants (READY=1 once the API
answers, STOPPING=1 on SIGTERM). systemd is not PID 1 on these machines, so the unit
is not started here; scripts/install installs it only where systemd runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid

import pytest
from tests.daemon.conftest import BERTHD, Berthd, _cleanup

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT = os.path.join(ROOT, "contrib", "systemd", "berth.service")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_unit_file_verifies() -> None:
    with open(UNIT) as f:
        text = f.read()
    assert "ExecStart=/usr/local/bin/berthd " in text and "Type=notify" in text
    d = tempfile.mkdtemp(prefix="berth-unit-")
    try:
        # as scripts/install writes it: ExecStart at the installed berthd (here: this venv's)
        unit = os.path.join(d, "berth.service")
        with open(unit, "w") as f:
            f.write(text.replace("ExecStart=/usr/local/bin/berthd", f"ExecStart={BERTHD}"))
        r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True)
        assert (r.returncode, r.stderr) == (0, "")
        # and a broken one is told apart (the check can fail)
        with open(unit, "a") as f:
            f.write("[Service]\nKillMod=process\n")
        r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True)
        assert "Unknown key" in r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_berthd_notifies_ready_once_it_serves_and_stopping_on_sigterm() -> None:
    root = tempfile.mkdtemp(prefix="berthd-notify-")
    suffix = uuid.uuid4().hex[:8]
    d = Berthd(root=root, group=f"berth-test-{suffix}", cgroup_parent=f"berth-test-{suffix}")
    listen = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listen.bind(os.path.join(root, "notify.sock"))
    listen.settimeout(90)
    try:
        with open(os.path.join(root, "berthd.log"), "ab") as log:
            d.proc = subprocess.Popen(d.args(), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                      env={**os.environ, "NOTIFY_SOCKET": os.path.join(root, "notify.sock")})
        assert listen.recv(4096) == b"READY=1", d.log_tail()
        with d.client() as c:  # ready means clients are answered
            assert c.get("/_ping").text == "OK"
        d.proc.terminate()
        assert listen.recv(4096) == b"STOPPING=1"
        assert d.proc.wait(30) == 0
    finally:
        listen.close()
        _cleanup(d)

