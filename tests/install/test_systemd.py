"""berth as a system service: contrib/systemd's units (berth.service, berth.socket,
berth-containerd.service) pass `systemd-analyze verify`, and berthd speaks sd_notify as
its Type=notify wants (READY=1 once the API answers, STOPPING=1 on SIGTERM). systemd is
not PID 1 on these machines, so the units are not started here (tests/daemon/
test_activation.py serves berth.socket's way through systemd-socket-activate);
scripts/install installs them only where systemd runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid

import pytest
from tests.daemon.conftest import BERTHD, Berthd, _cleanup, _pids_mentioning, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNITS = os.path.join(ROOT, "contrib", "systemd")
NAMES = ("berth.service", "berth.socket", "berth-containerd.service")
CONTAINERD = os.path.join(os.path.dirname(BERTHD), "berth-containerd")  # this venv's


def _installed(d: str) -> list[str]:
    """The units as scripts/install writes them (scripts/lib/berthd.sh's berth_write_units),
    for a prefix whose venv is this one, so that ExecStart names commands that exist."""
    prefix = os.path.join(d, "prefix")
    os.makedirs(prefix)
    os.symlink(os.path.dirname(os.path.dirname(BERTHD)), os.path.join(prefix, "venv"))
    units = os.path.join(d, "units")
    os.makedirs(units)
    subprocess.run(["sh", "-c", '. scripts/lib/berthd.sh && berth_write_units "$0" "$1"', units, prefix],
                   cwd=ROOT, check=True)
    assert sorted(os.listdir(units)) == sorted(NAMES)
    for name in NAMES:
        with open(os.path.join(units, name)) as f:
            assert "/usr/local/bin/" not in f.read()
    return [os.path.join(units, name) for name in NAMES]


def _unit(name: str) -> str:
    with open(os.path.join(UNITS, name)) as f:
        return f.read()


def test_the_units_say_what_docker_s_say() -> None:
    service, sock, ctrd = (_unit(n) for n in NAMES)
    assert "ExecStart=/usr/local/bin/berthd -H fd:// --containerd=/run/berth/containerd.sock " in service
    assert "Type=notify" in service and "ExecReload=/bin/kill -s HUP $MAINPID" in service
    assert "Requires=berth.socket" in service and "berth-containerd.service" in service
    for line in ("ListenStream=/run/berth/berth.sock", "SocketMode=0660", "SocketUser=root", "SocketGroup=berth"):
        assert line in sock.splitlines()
    assert "ExecStart=/usr/local/bin/berth-containerd --address /run/berth/containerd.sock " in ctrd
    assert "Type=notify" in ctrd and "KillMode=process" in ctrd and "Delegate=yes" in ctrd


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_unit_files_verify() -> None:
    d = tempfile.mkdtemp(prefix="berth-unit-")
    try:
        units = _installed(d)
        r = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, cwd=d)
        assert (r.returncode, r.stderr) == (0, "")
        # and a broken one is told apart (the check can fail)
        for path in units:
            with open(path, "a") as f:
                f.write("KillMod=process\n")
            r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True, cwd=d)
            assert "Unknown key" in r.stderr, path
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("command", ["berth-containerd", "berthd"])
def test_the_flags_the_units_give_are_the_commands_own(command: str) -> None:
    """ExecStart's flags parse: --help of the command names each of them."""
    unit = _unit("berth-containerd.service" if command == "berth-containerd" else "berth.service")
    line = next(ln for ln in unit.splitlines() if ln.startswith("ExecStart="))
    flags = [w.split("=")[0] for w in line.split()[1:] if w.startswith("-")]
    r = subprocess.run([os.path.join(os.path.dirname(BERTHD), command), "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for flag in flags:
        assert flag in r.stdout, flag


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



def test_berth_containerd_notifies_ready_once_it_serves() -> None:
    """berth-containerd.service is Type=notify: READY=1 once its gRPC socket is there."""
    root = tempfile.mkdtemp(prefix="berth-ctrd-notify-")
    listen = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listen.bind(os.path.join(root, "notify.sock"))
    listen.settimeout(90)
    address = os.path.join(root, "containerd.sock")
    log = os.path.join(root, "containerd.log")
    with open(log, "ab") as out:
        proc = subprocess.Popen([CONTAINERD, "--address", address, "--root", os.path.join(root, "root"),
                                 "--state", os.path.join(root, "state")], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=out,
                                env={**os.environ, "NOTIFY_SOCKET": os.path.join(root, "notify.sock")})
    try:
        try:
            ready = listen.recv(4096)
        except TimeoutError:
            ready = b""
        with open(log, errors="replace") as f:
            assert ready == b"READY=1", f.read()[-3000:]
        assert os.path.exists(address)
        proc.terminate()
        assert listen.recv(4096) == b"STOPPING=1"
        assert proc.wait(30) == 0
        assert wait_until(lambda: not _pids_mentioning(root)), "a process of it is left"  # its fork server
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listen.close()
        with open("/proc/mounts") as f:
            assert root not in f.read()
        shutil.rmtree(root, ignore_errors=True)
