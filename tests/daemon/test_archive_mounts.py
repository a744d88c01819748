"""docker cp sees the container's volumes, binds and /etc files where they are mounted
(dockerd's view of its filesystem), not its tmpfs; export is of the rootfs alone. The
same scenario runs with the docker CLI against berthd and against Debian's dockerd, and
the transcripts must be equal; then berth's CLI, stopped containers, read-only mounts,
symlinks in a volume, and that no mount (nor FIFO) is left in berth-containerd, also by
a client that leaves in the middle of a GET."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import socket
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from berth.daemon.libcontainerd import Containerd
from berth.daemon.libcontainerd.archive import read_archive
from tests import dockerd as private_dockerd
from tests import rootfs
from tests.daemon.conftest import Berthd, wait_until
from tests.daemon.test_exec import CLIS, cli

Docker = Callable[..., subprocess.CompletedProcess]


def _scenario(docker: Docker, api: httpx.Client, image: str, work: str) -> list[object]:
    """What a user sees of cp with mounts: each step's exit status and output."""
    tag = uuid.uuid4().hex[:6]
    host = os.path.join(work, f"host-{tag}")
    os.makedirs(host)
    with open(os.path.join(host, "hf"), "w") as f:
        f.write("from-host\n")
    os.makedirs(os.path.join(work, f"src-{tag}"))
    src = os.path.join(work, f"src-{tag}", "f.txt")
    with open(src, "w") as f:
        f.write("payload\n")
    vol, name = f"cpvol-{tag}", f"cpm-{tag}"
    out: list[object] = []

    def step(*args: str) -> str:
        r = docker(*args)
        out.append((args[0], r.returncode, r.stdout if args[0] == "exec" or args[:2] == ("run", "--rm") else "",
                    r.stderr.strip().splitlines()[-1:] if r.returncode else ""))
        return r.stdout

    def cp_out(path: str) -> None:
        r = docker("cp", f"{name}:{path}", "-", text=False)
        data = b""
        if r.returncode == 0:
            with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tar:
                data = tar.extractfile(tar.getmembers()[0]).read()  # type: ignore[union-attr]
        out.append(("cp-out", path, r.returncode, data))

    def stat(path: str) -> None:
        r = api.head(f"/containers/{name}/archive", params={"path": path})
        doc = json.loads(base64.b64decode(r.headers.get("X-Docker-Container-Path-Stat", "e30=")))
        out.append(("stat", path, r.status_code, doc.get("name"), doc.get("mode")))

    try:
        step("volume", "create", vol)
        step("run", "-d", "--name", name, "-v", f"{vol}:/data", "-v", f"{host}:/bind", "-v", f"{host}:/robind:ro",
             "--tmpfs", "/t", "--hostname", "cphost", image, "sleep", "1000")
        step("cp", src, f"{name}:/data/")
        step("exec", name, "cat", "/data/f.txt")
        step("run", "--rm", "-v", f"{vol}:/x", image, "cat", "/x/f.txt")
        cp_out("/bind/hf")
        step("cp", src, f"{name}:/bind/in.txt")
        out.append(("host", sorted(os.listdir(host))))
        step("cp", src, f"{name}:/robind/")
        step("cp", src, f"{name}:/t/")
        step("exec", name, "ls", "/t")  # the tmpfs does not see it: it went to the rootfs under it
        cp_out("/t/f.txt")
        step("exec", name, "sh", "-c", "echo intmp > /t/x")
        cp_out("/t/x")
        cp_out("/etc/hostname")
        for p in ("/data", "/bind", "/t", "/robind/hf"):
            stat(p)
        r = api.get(f"/containers/{name}/export")
        with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
            names = tar.getnames()
        out.append(("export", sorted(n for n in names if n.split("/")[0] in ("data", "bind", "robind", "t"))))
        step("stop", "-t", "0", name)
        step("cp", src, f"{name}:/data/g.txt")
        step("run", "--rm", "-v", f"{vol}:/x", image, "ls", "/x")
        cp_out("/bind/hf")
        step("create", "--name", f"{name}-new", "-v", f"{vol}:/new/deep", image, "true")
        r = docker("cp", f"{name}-new:/new/deep/g.txt", "-", text=False)
        out.append(("never started", r.returncode))
    finally:
        docker("rm", "-f", name, f"{name}-new")
        docker("volume", "rm", vol)
    return out


@pytest.fixture(scope="module")
def work() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="berth-cpm-") as d:
        os.chmod(d, 0o755)
        yield d


@pytest.fixture(scope="module")
def image_tar(work: str) -> str:
    root = rootfs.make_rootfs(os.path.join(work, "rootfs"))
    tar = os.path.join(work, "image.tar")
    subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
    return tar


def _containerd_mounts(berthd: Berthd) -> list[str]:
    with open(f"/proc/{berthd.containerd_pid()}/mountinfo") as f:
        return [line.split()[4] for line in f if berthd.root in line]


def test_cp_with_mounts_is_dockers(berthd: Berthd, api: httpx.Client, work: str, image_tar: str) -> None:
    rootfs.import_tar(api, image_tar, "cpm-image")
    before = _containerd_mounts(berthd)
    ours = _scenario(lambda *a, text=True: subprocess.run(["docker", *a], env=berthd.env, capture_output=True,
                                                          text=text, timeout=120), api, "cpm-image", work)
    assert _containerd_mounts(berthd) == before  # the views' binds went with their namespaces
    d = private_dockerd.start()
    try:
        with d.client() as c:
            rootfs.import_tar(c, image_tar, "cpm-image")
            theirs = _scenario(d.docker, c, "cpm-image", work)
    finally:
        private_dockerd.stop(d)
    assert ours == theirs
    assert ("cp", 1, "", ["Error response from daemon: mounted volume is marked read-only"]) in ours


@pytest.mark.parametrize("which", CLIS)
def test_cp_into_a_volume_with_the_clis(berthd: Berthd, api: httpx.Client, which: str, tmp_path) -> None:
    vol, name = f"cpv-{uuid.uuid4().hex[:6]}", f"cpc-{uuid.uuid4().hex[:6]}"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("in a dir\n")
    try:
        assert cli(berthd, which, "run", "-d", "--name", name, "-v", f"{vol}:/data", "--read-only", "busybox",
                   "sleep", "1000").returncode == 0
        r = cli(berthd, which, "cp", str(tmp_path / "d"), f"{name}:/data/d")
        assert r.returncode == 0, r.stderr  # a read-only rootfs, but the path is in a volume
        r = cli(berthd, which, "cp", str(tmp_path / "d"), f"{name}:/tmp/")
        assert r.returncode == 1 and "container rootfs is marked read-only" in r.stderr
        r = api.put(f"/containers/{name}/archive", params={"path": "/tmp"}, content=b"\0" * 1024)
        assert (r.status_code, r.json()["message"]) == (500, "container rootfs is marked read-only")  # as dockerd
        got = cli(berthd, which, "exec", name, "cat", "/data/d/a.txt")
        assert got.stdout == "in a dir\n"
        out = tmp_path / "back"
        assert cli(berthd, which, "cp", f"{name}:/data", str(out)).returncode == 0
        assert (out / "d" / "a.txt").read_text() == "in a dir\n"
    finally:
        cli(berthd, which, "rm", "-f", name)
        cli(berthd, which, "volume", "rm", vol)


def test_symlinks_in_a_volume_stay_in_the_container(berthd: Berthd, api: httpx.Client, tmp_path) -> None:
    """A volume's symlinks resolve in the container's root, never on the host's."""
    vol, name = f"cpv-{uuid.uuid4().hex[:6]}", f"cps-{uuid.uuid4().hex[:6]}"
    marker = f"/cp-escape-{uuid.uuid4().hex[:6]}"
    (tmp_path / "f").write_text("x\n")
    try:
        assert berthd.docker("run", "-d", "--name", name, "-v", f"{vol}:/data", "busybox", "sleep", "1000"
                             ).returncode == 0
        # made by an exec, which has ended when it answers (a run's sh might not have yet)
        assert berthd.docker("exec", name, "sh", "-c", f"mkdir -p {marker} && ln -s {marker} /data/abs && "
                             "ln -s ../../../../.. /data/up && ls /data/up").returncode == 0
        for link in ("abs", "up"):
            r = berthd.docker("cp", str(tmp_path / "f"), f"{name}:/data/{link}/{link}.txt")
            assert r.returncode == 0, r.stderr
        assert not os.path.exists(marker) and not os.path.exists("/up.txt")
        assert berthd.docker("exec", name, "cat", f"{marker}/abs.txt", "/up.txt").stdout == "x\nx\n"
    finally:
        berthd.docker("rm", "-f", name)
        berthd.docker("volume", "rm", vol)



def _fifo_dirs(berthd: Berthd) -> list[str]:
    return [n for n in os.listdir(berthd.exec_root) if n.startswith("archive-")]


@pytest.fixture
def stopped(api: httpx.Client) -> Iterator[str]:
    """A container that never ran, with a file bigger than the FIFO's pipe (1 MiB): its
    snapshot is mounted in berth-containerd for the length of a cp, and a reader that
    stops keeps berth-containerd writing until berthd closes its end (EPIPE)."""
    r = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["sleep", "1000"]})
    assert r.status_code == 201, r.text
    cid = r.json()["Id"]
    try:
        tar = io.BytesIO()
        with tarfile.open(fileobj=tar, mode="w") as t:
            info = tarfile.TarInfo("big")
            info.size = 8 << 20
            t.addfile(info, io.BytesIO(bytes(info.size)))
        assert api.put(f"/containers/{cid}/archive", params={"path": "/"}, content=tar.getvalue()).status_code == 200
        yield cid
    finally:
        api.delete(f"/containers/{cid}", params={"force": 1})


def _leave_before_the_body(berthd: Berthd, api: httpx.Client, cid: str, path: str) -> None:
    """A GET whose client closes at once: berthd still waits for the stat then."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(berthd.sock)
        s.sendall(f"GET /containers/{cid}/archive?path={path} HTTP/1.1\r\nHost: berth\r\n\r\n".encode())


def _leave_mid_body(berthd: Berthd, api: httpx.Client, cid: str, path: str) -> None:
    with api.stream("GET", f"/containers/{cid}/archive", params={"path": path}) as r:
        assert r.status_code == 200
        next(r.iter_raw(65536))


def _gets_answered(api: httpx.Client, cid: str, since: float) -> int:
    """How many GETs of the container's files berthd has answered (stat, stream made)."""
    r = api.get("/events", params={"since": f"{since:.6f}", "until": f"{time.time():.6f}",
                                   "filters": json.dumps({"container": [cid], "event": ["archive-path"]})})
    return len(r.text.splitlines())


@pytest.mark.parametrize("leave", [_leave_before_the_body, _leave_mid_body], ids=["before the body", "mid-body"])
def test_a_client_that_leaves_a_get_leaves_no_mount_nor_fifo(berthd: Berthd, api: httpx.Client, stopped: str,
                                                             leave: Callable[..., None]) -> None:
    """Then the mount goes, and `start` is no longer refused as another operation in progress."""
    before, since = _containerd_mounts(berthd), time.time()
    for _ in range(3):
        leave(berthd, api, stopped, "/big")
    assert wait_until(lambda: _gets_answered(api, stopped, since) == 3)
    assert wait_until(lambda: not _fifo_dirs(berthd) and _containerd_mounts(berthd) == before), \
        (_fifo_dirs(berthd), _containerd_mounts(berthd), before)
    assert api.post(f"/containers/{stopped}/start").status_code == 204


def test_a_tar_stream_closed_before_its_first_read_releases_the_mount(berthd: Berthd, api: httpx.Client,
                                                                      stopped: str) -> None:
    """read_archive's stream closed unread (a response Starlette cancelled before it
    iterated, a caller that failed after the call): its FIFO and the mount go at once."""
    before = _containerd_mounts(berthd)

    async def abandon() -> tuple[list[str], list[str]]:
        ctrd = Containerd(os.path.join(berthd.exec_root, "containerd.sock"))
        try:
            _, data = await read_archive(ctrd, stopped, "/big")
            held = _containerd_mounts(berthd)
            await data.aclose()
            return held, _fifo_dirs(berthd)
        finally:
            await ctrd.close()

    held, fifos = asyncio.run(abandon())
    assert held != before and fifos == []  # the stream held the mount; its close removed the FIFO
    assert wait_until(lambda: _containerd_mounts(berthd) == before), (_containerd_mounts(berthd), before)
    assert api.post(f"/containers/{stopped}/start").status_code == 204
