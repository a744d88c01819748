"""An engine for the CLI's end-to-end story: a private berthd, or the one BERTH_TEST_HOST names.

BERTH_TEST_HOST=unix:///path lets the same tests run against any engine that
speaks the API (that is how they were first checked against Docker's own).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator

import pytest

import rootfs
from tests.host import private_network, remove_network_leftovers

BERTHD = os.path.join(os.path.dirname(sys.executable), "berthd")
IMAGE = "cli-busybox"  # a name of our own, so a shared engine's images stay untouched


def _ping(path: str) -> bool:
    import socket

    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: berth\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _end_processes_under(root: str) -> None:
    """SIGKILL, by PID, every process whose command line names our private root.

    berthd's berth-containerd and the shims it starts outlive berthd by design;
    they are ours only through the paths we gave them.
    """
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if root.encode() + b"/" in cmdline:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


def _remove_cgroups(name: str) -> None:
    for hierarchy in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", hierarchy, name)
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: len(w[0]), reverse=True):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
    try:
        os.rmdir(os.path.join("/sys/fs/cgroup", name))
    except OSError:
        pass


def _unmount_under(root: str) -> None:
    """Whatever the engine left mounted below `root`, deepest first."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for point in sorted((p for p in points if p.startswith(root + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


@pytest.fixture(scope="session")
def engine_host(tmp_path_factory) -> Iterator[str]:
    host = os.environ.get("BERTH_TEST_HOST")
    if host:
        yield host
        return
    root = f"/tmp/berth-cli-{uuid.uuid4().hex[:8]}"
    os.makedirs(root)
    sock = f"{root}/berth.sock"
    cgroup = f"berth-test-{uuid.uuid4().hex[:8]}"
    net_args, net = private_network(uuid.uuid4().hex)
    log = open(f"{root}/berthd.log", "wb")
    proc = subprocess.Popen(
        [BERTHD, "-H", f"unix://{sock}", "--data-root", f"{root}/data", "--exec-root", f"{root}/exec",
         "--group", "root", "--pidfile", f"{root}/berthd.pid",
         "--cgroup-parent", cgroup, *net_args],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(300):  # up to 30 s for berthd and its berth-containerd
            if _ping(sock) or proc.poll() is not None:
                break
            time.sleep(0.1)
        if not _ping(sock):
            with open(f"{root}/berthd.log", "rb") as f:
                pytest.fail(f"berthd did not come up:\n{f.read().decode(errors='replace')[-3000:]}")
        yield f"unix://{sock}"
    finally:
        subprocess.run([sys.executable, "-m", "berth.client.main", "-H", f"unix://{sock}", "rm", "-f",
                        *subprocess.run([sys.executable, "-m", "berth.client.main", "-H", f"unix://{sock}",
                                         "ps", "-aq", "--no-trunc"], capture_output=True, text=True)
                        .stdout.split()], capture_output=True)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        _end_processes_under(root)
        remove_network_leftovers(net, f"{root}/exec")
        _unmount_under(root)
        _remove_cgroups(cgroup)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory) -> str:
    """A busybox root filesystem as a tarball, made offline from the host's busybox."""
    base = tmp_path_factory.mktemp("busybox")
    rootfs.make_rootfs(str(base / "rootfs"))
    tar = str(base / "busybox.tar")
    with tarfile.open(tar, "w") as t:
        t.add(str(base / "rootfs"), arcname=".")
    return tar


@pytest.fixture(scope="session")
def image(engine_host, busybox_tar) -> str:
    """Our busybox, imported through the CLI itself (the first step of the story)."""
    result = subprocess.run([sys.executable, "-m", "berth.client.main", "-H", engine_host, "image", "import",
                             "-c", "ENV PATH=/bin", "-c", 'CMD ["sh"]', busybox_tar, IMAGE],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return IMAGE
