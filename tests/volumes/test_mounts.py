"""Mounts in containers, on the real kernel, through the berth CLI: named volumes keep
data across containers, binds are read and written both ways, ro refuses writes,
tmpfs is in memory and gone with the container, copy-up fills a new volume from the
image, inspect shows Mounts as docker does, and rm -v / --rm take anonymous volumes."""

from __future__ import annotations

import os
import tempfile
import uuid

import httpx
import pytest

from tests.daemon.conftest import Berthd
from tests.volumes.conftest import mounts_under, run

pytestmark = pytest.mark.usefixtures("no_leaks")


def _name() -> str:
    return "v" + uuid.uuid4().hex[:10]


@pytest.mark.parametrize("runtime", ["berth", "runc"])
def test_named_volume_data_survives_rm_and_is_seen_by_the_next_container(berthd: Berthd, runtime: str) -> None:
    vol = _name()
    run(berthd, "run", "--rm", "--runtime", runtime, "-v", f"{vol}:/data", "busybox",
        "sh", "-c", "echo kept > /data/f")
    done = run(berthd, "run", "--rm", "--runtime", runtime, "-v", f"{vol}:/data", "busybox", "cat", "/data/f")
    assert done.stdout == "kept\n"
    with open(os.path.join(berthd.data_root, "volumes", vol, "_data", "f")) as f:
        assert f.read() == "kept\n"  # on the host's filesystem, under the data root
    run(berthd, "volume", "rm", vol)
    assert not os.path.exists(os.path.join(berthd.data_root, "volumes", vol))


def test_bind_is_read_and_written_both_ways_and_ro_refuses_writes(berthd: Berthd) -> None:
    host = tempfile.mkdtemp(prefix="berth-bind-")
    try:
        with open(os.path.join(host, "in"), "w") as f:
            f.write("from the host\n")
        done = run(berthd, "run", "--rm", "-v", f"{host}:/h", "busybox", "sh", "-c", "cat /h/in; echo back > /h/out")
        assert done.stdout == "from the host\n"
        with open(os.path.join(host, "out")) as f:
            assert f.read() == "back\n"
        done = run(berthd, "run", "--rm", "-v", f"{host}:/h:ro", "busybox", "sh", "-c", "echo x > /h/no",
                   check=False)
        assert done.returncode != 0 and "Read-only file system" in done.stderr
        assert not os.path.exists(os.path.join(host, "no"))
        done = run(berthd, "run", "--rm", "--mount", f"type=bind,src={host},dst=/h,readonly", "busybox",
                   "sh", "-c", "cat /h/in && ! touch /h/no2")
        assert done.stdout == "from the host\n" and not os.path.exists(os.path.join(host, "no2"))
    finally:
        import shutil

        shutil.rmtree(host, ignore_errors=True)


def test_v_creates_a_missing_host_directory(berthd: Berthd) -> None:
    base = tempfile.mkdtemp(prefix="berth-bind-")
    missing = os.path.join(base, "made", "by", "v")
    try:
        run(berthd, "run", "--rm", "-v", f"{missing}:/m", "busybox", "touch", "/m/x")
        assert os.path.isfile(os.path.join(missing, "x"))
    finally:
        import shutil

        shutil.rmtree(base, ignore_errors=True)


def test_tmpfs_is_in_memory_and_gone_after_stop(berthd: Berthd) -> None:
    name = _name()
    run(berthd, "run", "-d", "--name", name, "--tmpfs", "/scratch:size=2m", "--mount",
        "type=tmpfs,dst=/t2,tmpfs-size=1048576,tmpfs-mode=1770", "busybox", "sleep", "600")
    try:
        mounts = run(berthd, "exec", name, "cat", "/proc/mounts").stdout
        scratch = [line.split() for line in mounts.splitlines() if line.split()[1] == "/scratch"]
        assert scratch and scratch[0][2] == "tmpfs" and "size=2048k" in scratch[0][3], mounts
        t2 = [line.split() for line in mounts.splitlines() if line.split()[1] == "/t2"]
        assert t2 and t2[0][2] == "tmpfs" and "size=1024k" in t2[0][3] and "mode=1770" in t2[0][3], mounts
        run(berthd, "exec", name, "sh", "-c", "echo mem > /scratch/f")
        run(berthd, "stop", "-t", "1", name)
        run(berthd, "start", name)
        done = run(berthd, "exec", name, "ls", "/scratch")
        assert done.stdout == ""  # a new tmpfs: what was written is gone
    finally:
        run(berthd, "rm", "-f", name)


def test_copy_up_fills_a_new_volume_from_the_image_unless_nocopy(berthd: Berthd, image: str) -> None:
    vol, bare = _name(), _name()
    done = run(berthd, "run", "--rm", "-v", f"{vol}:/seed", image, "sh", "-c",
               "cat /seed/a.txt /seed/sub/b.txt; stat -c '%u:%g %a' /seed /seed/a.txt")
    assert done.stdout == "from the image\nnested\n1000:1000 750\n1000:1000 644\n"
    data = os.path.join(berthd.data_root, "volumes", vol, "_data")
    assert os.path.isfile(os.path.join(data, "sub", "b.txt"))
    # a volume with data is not filled again
    os.unlink(os.path.join(data, "a.txt"))
    done = run(berthd, "run", "--rm", "-v", f"{vol}:/seed", image, "ls", "/seed")
    assert done.stdout.split() == ["sub"]
    done = run(berthd, "run", "--rm", "-v", f"{bare}:/seed:nocopy", image, "ls", "-A", "/seed")
    assert done.stdout == ""
    run(berthd, "volume", "rm", vol, bare)


def test_inspect_mounts_as_docker_and_rm_v_takes_anonymous_volumes(berthd: Berthd, api: httpx.Client,
                                                                    image: str) -> None:
    vol, name = _name(), _name()
    host = tempfile.mkdtemp(prefix="berth-bind-")
    try:
        run(berthd, "create", "--name", name, "-v", f"{vol}:/data", "-v", f"{host}:/h:ro,rshared", "-v", "/anon",
            "--tmpfs", "/run:size=1m", image, "true")
        c = api.get(f"/containers/{name}/json").json()
        by_dest = {m["Destination"]: m for m in c["Mounts"]}
        assert by_dest["/data"] == {"Type": "volume", "Name": vol, "Source": os.path.join(
            berthd.data_root, "volumes", vol, "_data"), "Destination": "/data", "Driver": "local", "Mode": "z",
            "RW": True, "Propagation": ""}
        assert by_dest["/h"] == {"Type": "bind", "Source": host, "Destination": "/h", "Mode": "ro,rshared",
                                 "RW": False, "Propagation": "rshared"}
        assert by_dest["/run"]["Type"] == "tmpfs"
        # the list shows the same (dockerd's both come from the container's mount points;
        # compose v2 recreates a service whose listed Mounts lack its named volume)
        listed = api.get("/containers/json", params={"all": 1, "filters": f'{{"name": ["^/{name}$"]}}'}).json()
        assert [x["Mounts"] for x in listed] == [c["Mounts"]]
        anon = [by_dest[d]["Name"] for d in ("/anon", "/declared")]
        assert all(len(a) == 64 for a in anon) and by_dest["/anon"]["Mode"] == ""
        assert c["Config"]["Volumes"] == {"/anon": {}, "/declared": {}}
        for a in anon:
            assert api.get(f"/volumes/{a}").json()["Labels"] == {"com.docker.volume.anonymous": ""}
        run(berthd, "rm", "-v", name)
        for a in anon:
            assert api.get(f"/volumes/{a}").status_code == 404
        assert api.get(f"/volumes/{vol}").status_code == 200  # named volumes stay
        run(berthd, "volume", "rm", vol)
    finally:
        os.rmdir(host)


def test_auto_remove_takes_anonymous_volumes_too(berthd: Berthd, api: httpx.Client) -> None:
    before = {v["Name"] for v in api.get("/volumes").json()["Volumes"]}
    run(berthd, "run", "--rm", "-v", "/anon", "busybox", "touch", "/anon/x")
    after = {v["Name"] for v in api.get("/volumes").json()["Volumes"]}
    assert after == before


def test_volumes_from_shares_the_other_containers_volumes(berthd: Berthd) -> None:
    vol, donor = _name(), _name()
    run(berthd, "create", "--name", donor, "-v", f"{vol}:/shared", "busybox", "true")
    try:
        run(berthd, "run", "--rm", "--volumes-from", donor, "busybox", "sh", "-c", "echo via > /shared/f")
        done = run(berthd, "run", "--rm", "--volumes-from", f"{donor}:ro", "busybox", "sh", "-c",
                   "cat /shared/f; touch /shared/g", check=False)
        assert done.stdout == "via\n" and "Read-only file system" in done.stderr
    finally:
        run(berthd, "rm", donor)
        run(berthd, "volume", "rm", vol)


def test_a_tmpfs_volume_is_mounted_at_first_use_and_unmounted_after_the_last(berthd: Berthd) -> None:
    vol, a = _name(), _name()
    run(berthd, "volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=4m", vol)
    data = os.path.join(berthd.data_root, "volumes", vol, "_data")
    assert data not in mounts_under(berthd.data_root)
    run(berthd, "run", "-d", "--name", a, "-v", f"{vol}:/v", "busybox", "sleep", "600")
    try:
        assert data in mounts_under(berthd.data_root)
        mounts = run(berthd, "exec", a, "cat", "/proc/mounts").stdout
        assert any(line.split()[1] == "/v" and line.split()[2] == "tmpfs" for line in mounts.splitlines())
    finally:
        run(berthd, "rm", "-f", a)
    assert data not in mounts_under(berthd.data_root)
    run(berthd, "volume", "rm", vol)


def test_a_volume_of_a_host_directory_by_o_bind(berthd: Berthd) -> None:
    vol = _name()
    host = tempfile.mkdtemp(prefix="berth-volbind-")
    try:
        run(berthd, "volume", "create", "-o", "type=none", "-o", f"device={host}", "-o", "o=bind", vol)
        run(berthd, "run", "--rm", "-v", f"{vol}:/v", "busybox", "sh", "-c", "echo through > /v/f")
        with open(os.path.join(host, "f")) as f:
            assert f.read() == "through\n"
        assert mounts_under(berthd.data_root) == [p for p in mounts_under(berthd.data_root) if vol not in p]
        run(berthd, "volume", "rm", vol)
        assert os.path.isfile(os.path.join(host, "f"))  # removing the volume leaves the device's files
    finally:
        import shutil

        shutil.rmtree(host, ignore_errors=True)
