"""docker cp and export through the archive API (HEAD|GET|PUT /containers/{id}/archive,
GET /export), with berth's CLI, the docker CLI and the docker SDK, on running and
stopped containers; symlinks in the container never reach the host's files."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import uuid

import docker
import grpc
import httpx
import pytest
from berth.proto import containerd_pb2 as pb
from berth.proto import containerd_pb2_grpc as pbg
from tests.daemon.conftest import Berthd, private_berthd, run_container
from tests.daemon.test_exec import CLIS, cli

SETUP = ("mkdir -p /d/sub && echo hello > /d/f && ln -s /etc/shadow /link && ln -s /d /dlink"
         " && echo container-secret > /etc/shadow && ln -s rel /d/rl && ln -s /etc /etclink")


def _tar(entries: dict[str, bytes | str | None]) -> bytes:
    """name -> bytes (a file), "->target" (a symlink), None (a directory)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data[2:]
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getnames()


def _stat(api: httpx.Client, cid: str, path: str) -> dict:
    r = api.head(f"/containers/{cid}/archive", params={"path": path})
    assert r.status_code == 200, r.status_code
    return json.loads(base64.b64decode(r.headers["X-Docker-Container-Path-Stat"]))


def _exec(api: httpx.Client, cid: str, script: str) -> None:
    r = api.post(f"/containers/{cid}/exec", json={"Cmd": ["sh", "-c", script]})
    assert r.status_code == 201, r.text
    r = api.post(f"/exec/{r.json()['Id']}/start", json={"Detach": False})
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def box(berthd: Berthd) -> str:
    with berthd.client() as api:
        cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "100000"]}, name=f"cp-{uuid.uuid4().hex[:6]}")
        _exec(api, cid, SETUP)
    yield cid
    with berthd.client() as api:
        api.delete(f"/containers/{cid}", params={"force": 1})


def test_stat_header_is_dockers(api: httpx.Client, box: str) -> None:
    f = _stat(api, box, "/d/f")
    assert (f["name"], f["size"], f["mode"], f["linkTarget"]) == ("f", 6, 0o644, "")
    assert f["mtime"].endswith("Z") and "T" in f["mtime"]
    d = _stat(api, box, "/d")
    assert d["mode"] == (1 << 31) | 0o755  # Go's os.ModeDir
    link = _stat(api, box, "/link")
    assert link["mode"] == (1 << 27) | 0o777 and link["linkTarget"] == "/etc/shadow"
    assert _stat(api, box, "/d/rl")["linkTarget"] == "/d/rel"  # dangling, resolved lexically
    assert _stat(api, box, "/dlink/")["name"] == "dlink" and _stat(api, box, "/d/.")["name"] == "."
    assert _stat(api, box, "d/f")["name"] == "f"  # relative: from "/", as dockerd


def test_archive_names_follow_dockers_rules(api: httpx.Client, box: str) -> None:
    def names(path: str) -> list[str]:
        r = api.get(f"/containers/{box}/archive", params={"path": path})
        assert r.status_code == 200 and r.headers["content-type"] == "application/x-tar"
        return _names(r.content)

    assert names("/d/f") == ["f"]
    assert names("/d")[:2] == ["d", "d/f"]
    assert names("/dlink") == ["dlink"]  # the link itself
    assert names("/dlink/")[:2] == ["dlink", "dlink/f"]  # followed, named as asked
    assert names("/d/.")[:2] == [".", "./f"]


def test_a_link_to_a_host_path_is_the_containers_file(api: httpx.Client, box: str) -> None:
    r = api.get(f"/containers/{box}/archive", params={"path": "/link/"})
    # /link -> /etc/shadow is not a directory: its trailing slash is refused (no host read)
    assert r.status_code == 404
    r = api.get(f"/containers/{box}/archive", params={"path": "/etclink/shadow"})
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        assert tar.extractfile("shadow").read() == b"container-secret\n"  # type: ignore[union-attr]


@pytest.mark.parametrize("which", CLIS)
def test_cp_out_follows_the_link_inside_the_container(berthd: Berthd, box: str, which: str, tmp_path) -> None:
    r = cli(berthd, which, "cp", "-L", f"{box}:/link", str(tmp_path / "got"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "got").read_text() == "container-secret\n"
    r = cli(berthd, which, "cp", f"{box}:/link", "-")
    assert r.returncode == 0
    with tarfile.open(fileobj=io.BytesIO(r.stdout.encode())) as tar:
        assert tar.getmember("link").linkname == "/etc/shadow"


def test_put_through_symlinked_dirs_lands_inside(api: httpx.Client, box: str) -> None:
    r = api.put(f"/containers/{box}/archive", params={"path": "/etclink"}, content=_tar({"planted": b"x"}))
    assert r.status_code == 200, r.text
    assert not os.path.exists("/etc/planted")
    # a link planted by the archive itself, then an entry through it
    r = api.put(f"/containers/{box}/archive", params={"path": "/d/sub"},
                content=_tar({"esc": "->/etc", "esc/planted2": b"x"}))
    assert not os.path.exists("/etc/planted2")
    got = api.get(f"/containers/{box}/archive", params={"path": "/etc/planted"})
    assert got.status_code == 200


@pytest.mark.parametrize("which", CLIS)
def test_cp_both_ways_with_the_clis(berthd: Berthd, api: httpx.Client, box: str, which: str, tmp_path) -> None:
    src = tmp_path / "src"
    (src / "inner").mkdir(parents=True)
    (src / "inner" / "file.txt").write_text("from the host\n")
    (tmp_path / "one.txt").write_text("one\n")
    dest = f"/cp-{which}"
    assert cli(berthd, which, "cp", str(src), f"{box}:{dest}").returncode == 0  # dir onto a missing path: its name
    assert cli(berthd, which, "cp", str(tmp_path / "one.txt"), f"{box}:{dest}/").returncode == 0  # into the dir
    assert cli(berthd, which, "cp", str(src) + "/.", f"{box}:{dest}/inner").returncode == 0  # contents
    out = tmp_path / "back"
    r = cli(berthd, which, "cp", f"{box}:{dest}", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "inner" / "file.txt").read_text() == "from the host\n"
    assert (out / "one.txt").read_text() == "one\n"
    assert (out / "inner" / "inner" / "file.txt").exists()
    r = cli(berthd, which, "cp", f"{box}:/nope", str(tmp_path))
    assert r.returncode == 1
    assert f"Could not find the file /nope in container {box}" in r.stderr
    r = cli(berthd, which, "cp", str(src), f"{box}:/d/f")  # a directory onto a file
    assert r.returncode == 1


def test_put_errors_are_dockers(api: httpx.Client, box: str) -> None:
    data = _tar({"a": b"a"})
    r = api.put(f"/containers/{box}/archive", params={"path": "/nope"}, content=data)
    assert (r.status_code, r.json()["message"]) == (404, f"Could not find the file /nope in container {box}")
    r = api.put(f"/containers/{box}/archive", params={"path": "/d/f"}, content=data)
    assert (r.status_code, r.json()["message"]) == (400, "extraction point is not a directory")
    r = api.put(f"/containers/{box}/archive", params={"path": "/d"}, content=b"not a tar" * 100)
    assert r.status_code == 500 and r.json()["message"].startswith("Error processing tar file(exit status 1): ")
    r = api.put(f"/containers/{box}/archive", params={"path": "/d", "noOverwriteDirNonDir": "1"},
                content=_tar({"f": None}))
    assert r.status_code == 500 and "cannot overwrite non-directory" in r.json()["message"]
    r = api.get(f"/containers/{box}/archive")
    assert (r.status_code, r.json()["message"]) == (400, "bad parameter: pathcannot be empty")
    assert api.get("/containers/nosuch/archive", params={"path": "/"}).status_code == 404


def test_stopped_container_and_the_sdk(berthd: Berthd, api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", "echo made > /tmp/made"], "User": "1000:1000"})
    try:
        api.post(f"/containers/{cid}/wait")
        sdk = docker.DockerClient(base_url=berthd.host, version="1.45")
        c = sdk.containers.get(cid)
        assert c.put_archive("/tmp", _tar({"in.txt": b"put while stopped"}))
        stream, stat = c.get_archive("/tmp/in.txt")
        assert stat["name"] == "in.txt" and stat["size"] == 17
        assert _names(b"".join(stream)) == ["in.txt"]
        stream, _ = c.get_archive("/tmp/made")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            assert tar.extractfile("made").read() == b"made\n"  # type: ignore[union-attr]
        # copyUIDGID: the container's user owns what is extracted
        r = api.put(f"/containers/{cid}/archive", params={"path": "/tmp", "copyUIDGID": "1"},
                    content=_tar({"owned": b"x"}))
        assert r.status_code == 200
        r = api.get(f"/containers/{cid}/archive", params={"path": "/tmp/owned"})
        with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
            m = tar.getmember("owned")
            assert (m.uid, m.gid) == (1000, 1000)
        sdk.close()
        with open("/proc/mounts") as f:
            assert not [line for line in f if berthd.root in line and "/archive/" in line]
    finally:
        api.delete(f"/containers/{cid}", params={"force": 1})


def test_export(berthd: Berthd, api: httpx.Client, box: str, tmp_path) -> None:
    r = api.get(f"/containers/{box}/export")
    assert r.status_code == 200
    names = _names(r.content)
    assert "bin/busybox" in names and "d/f" in names and "link" in names
    assert not any(n.startswith("/") or n.startswith("./") for n in names)
    docker_tar = subprocess.run(["docker", "export", box], env=berthd.env, capture_output=True, timeout=60)
    assert docker_tar.returncode == 0
    assert "d/f" in _names(docker_tar.stdout)
    out = tmp_path / "e.tar"
    assert cli(berthd, "berth", "export", "-o", str(out), box).returncode == 0
    assert "d/f" in _names(out.read_bytes())


def _fifo_dirs(berthd: Berthd) -> list[str]:
    return [n for n in os.listdir(berthd.exec_root) if n.startswith("archive-")]


def test_big_files_go_through_the_fifo_whole(berthd: Berthd, api: httpx.Client, box: str) -> None:
    """Files over 1 MiB take the splice path out and many pipe-fulls in; a client that
    leaves in the middle of a tar, and a tar that fails after its first file, leave no
    FIFO behind and the container's files usable."""
    blob = os.urandom(5 << 20) + b"tail"
    r = api.put(f"/containers/{box}/archive", params={"path": "/tmp"}, content=_tar({"big": blob, "small": b"s"}))
    assert r.status_code == 200, r.text
    r = api.get(f"/containers/{box}/archive", params={"path": "/tmp/big"})
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        assert tar.extractfile("big").read() == blob  # type: ignore[union-attr]
    with api.stream("GET", f"/containers/{box}/archive", params={"path": "/tmp/big"}) as r:
        next(r.iter_raw(65536))  # then gone
    r = api.put(f"/containers/{box}/archive", params={"path": "/tmp"},
                content=_tar({"big2": blob})[:3 << 20])  # cut short in the middle of the file
    assert r.status_code == 500 and r.json()["message"].startswith("Error processing tar file(exit status 1): ")
    r = api.get(f"/containers/{box}/archive", params={"path": "/tmp/small"})
    assert r.status_code == 200 and _names(r.content) == ["small"]
    for _ in range(50):  # the abandoned GET's generator is closed by the event loop soon after
        if not _fifo_dirs(berthd):
            break
        time.sleep(0.1)
    assert _fifo_dirs(berthd) == []


def test_a_fifo_left_by_a_berthd_that_died_is_removed_by_the_next_berthds_first_cp() -> None:
    """A berthd killed in the middle of a cp leaves its FIFO's directory; the next
    berthd's first cp removes it, and leaves alone one of a berthd that still runs (this
    test's pid)."""
    with private_berthd("berthd-cpfifo-") as d, d.client() as api:
        cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "1000"]})
        dead, alive = (os.path.join(d.exec_root, f"archive-{pid}-x") for pid in (1 << 23, os.getpid()))
        for directory in (dead, alive):
            os.mkdir(directory, 0o700)
            os.mkfifo(os.path.join(directory, "tar"))
        r = api.get(f"/containers/{cid}/archive", params={"path": "/etc/hostname"})
        assert r.status_code == 200
        assert sorted(_fifo_dirs(d)) == [os.path.basename(alive)]
        shutil.rmtree(alive)


def test_the_rpcs_without_a_fifo_are_refused(berthd: Berthd, box: str) -> None:
    """berth-containerd's archive RPCs need the caller's FIFO: a caller without one (a
    berthd from before it) is refused, not answered with an empty tar."""
    with grpc.insecure_channel(f"unix://{os.path.join(berthd.exec_root, 'containerd.sock')}") as channel:
        stub = pbg.ContainersStub(channel)
        for call in (lambda: list(stub.ReadArchive(pb.PathRequest(id=box, path="/etc/hostname"), timeout=60)),
                     lambda: stub.WriteArchive(pb.WriteArchiveRequest(id=box, path="/tmp"), timeout=60)):
            with pytest.raises(grpc.RpcError) as e:
                call()
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "no fifo" in e.value.details()


def test_a_body_that_starts_late_is_still_all_there(api: httpx.Client, box: str) -> None:
    """berth-containerd opens the FIFO and reads before berthd has a byte to write: it
    waits for them (a FIFO with no writer yet would read as an empty tar)."""
    data = _tar({"late": b"came late"})

    def body():
        time.sleep(0.5)
        yield data[:700]
        time.sleep(0.2)
        yield data[700:]

    r = api.put(f"/containers/{box}/archive", params={"path": "/tmp"}, content=body())
    assert r.status_code == 200, r.text
    r = api.get(f"/containers/{box}/archive", params={"path": "/tmp/late"})
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        assert tar.extractfile("late").read() == b"came late"  # type: ignore[union-attr]
