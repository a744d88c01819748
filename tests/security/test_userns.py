"""berthd --userns-remap, side by side with Debian's dockerd --userns-remap default: root in
the container is the `dockremap` user's first subordinate id on the host, the image's files
show as root's inside (layers shifted once per image and mapping, reused by the next
container), what the container writes is owned by that id on the host, `--userns host`
opts out, and dockerd's refusals and start-up errors, word for word."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from collections.abc import Iterator

import pytest

from tests.daemon.conftest import BERTHD, Berthd, _pids_mentioning
from tests.dockerd import Dockerd

from .conftest import IMAGE, berthd_with_image, dockerd_with_image

Engine = Berthd | Dockerd


def _subordinate(path: str = "/etc/subuid") -> int:
    with open(path) as f:
        starts = [int(line.split(":")[1]) for line in f if line.startswith("dockremap:")]
    assert len(starts) == 1, starts  # one range, however often the engines started
    return starts[0]


@pytest.fixture(scope="module")
def remapped(image_tar: str) -> Iterator[Berthd]:
    with berthd_with_image("berthd-userns-", ["--userns-remap", "default"], image_tar) as d:
        yield d


@pytest.fixture(scope="module")
def remapped_dockerd(image_tar: str, remapped: Berthd) -> Iterator[Dockerd]:
    """Started after berthd, which made dockremap and its ranges (one writer of /etc/subuid)."""
    with dockerd_with_image(["--userns-remap", "default"], image_tar) as d:
        yield d


@pytest.fixture(params=["berthd", "dockerd"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue("remapped" if request.param == "berthd" else "remapped_dockerd")


def _ok(e: Engine, *args: str) -> str:
    r = e.docker(*args, timeout=120)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def _inspect(e: Engine, cid: str) -> dict:
    return json.loads(_ok(e, "inspect", cid))[0]


def _status_ids(pid: int, field: str) -> list[str]:
    with open(f"/proc/{pid}/status") as f:
        return next(line.split()[1:] for line in f if line.startswith(field + ":"))


def test_root_inside_is_the_first_subordinate_id_outside(engine: Engine) -> None:
    # (dockerd adds groups=0(root): it sets the image's groups of root as additionalGids
    # for every container, berth only with --user or --group-add, remapped or not)
    assert _ok(engine, "run", "--rm", "--network", "none", IMAGE, "id").startswith("uid=0(root) gid=0(root)")
    cid = _ok(engine, "run", "-d", "--network", "none", IMAGE, "sleep", "600").strip()
    try:
        pid = _inspect(engine, cid)["State"]["Pid"]
        sub, subg = _subordinate(), _subordinate("/etc/subgid")
        assert _status_ids(pid, "Uid") == [str(sub)] * 4
        assert _status_ids(pid, "Gid") == [str(subg)] * 4
        with open(f"/proc/{pid}/uid_map") as f:
            assert f.read().split() == ["0", str(sub), "65536"]
        assert _ok(engine, "exec", cid, "id").startswith("uid=0(root) gid=0(root)")
    finally:
        engine.docker("rm", "-f", cid)


def test_image_files_show_as_root_inside(remapped: Berthd, remapped_dockerd: Dockerd) -> None:
    cmd = ["run", "--rm", "--network", "none", IMAGE, "sh", "-c",
           "ls -ln /bin | awk 'NR>1 {print $3, $4}' | sort | uniq -c; ls -lnd / /etc /etc/passwd | awk '{print $3, $4}'"]
    ours, theirs = _ok(remapped, *cmd), _ok(remapped_dockerd, *cmd)
    assert ours == theirs
    lines = ours.splitlines()
    assert [line.split()[1:] for line in lines[:1]] == [["0", "0"]] and lines[1:] == ["0 0"] * 3


def test_a_written_file_is_owned_by_the_subordinate_id_on_the_host(engine: Engine) -> None:
    cid = _ok(engine, "run", "-d", "--network", "none", IMAGE, "sleep", "600").strip()
    try:
        _ok(engine, "exec", cid, "sh", "-c", "echo x > /written && mkdir /made")  # done when it answers
        upper = _inspect(engine, cid)["GraphDriver"]["Data"]["UpperDir"]
        assert _ok(engine, "exec", cid, "ls", "-ln", "/written").split()[2:4] == ["0", "0"]
        for name in ("written", "made"):
            st = os.stat(os.path.join(upper, name))
            assert (st.st_uid, st.st_gid) == (_subordinate(), _subordinate("/etc/subgid"))
    finally:
        engine.docker("rm", "-f", cid)


def test_the_etc_files_are_roots_and_readable_inside(engine: Engine) -> None:
    out = _ok(engine, "run", "--rm", "--network", "none", "--hostname", "h1", IMAGE, "sh", "-c",
              "cat /etc/hostname; ls -ln /etc/hosts /etc/hostname /etc/resolv.conf | awk '{print $3, $4}';"
              "grep -c localhost /etc/hosts")
    assert out.split("\n")[:5] == ["h1", "0 0", "0 0", "0 0", "2"], out


def test_the_next_container_reuses_the_shifted_layers(remapped: Berthd) -> None:
    shifted = os.path.join(remapped.data_root, "containerd", "snapshots", "remapped")
    inode = ["run", "--rm", "--network", "none", IMAGE, "stat", "-c", "%i %u", "/bin/busybox"]
    first = _ok(remapped, *inode)
    before = sorted(os.listdir(shifted))
    assert before  # the image's chain, shifted
    assert _ok(remapped, *inode) == first  # the same inode below: no second copy
    assert sorted(os.listdir(shifted)) == before
    for name in before:
        st = os.stat(os.path.join(shifted, name, "fs", "bin", "busybox"))
        assert st.st_uid == _subordinate()


def test_userns_host_opts_out(engine: Engine) -> None:
    cid = _ok(engine, "run", "-d", "--network", "none", "--userns", "host", IMAGE, "sleep", "600").strip()
    try:
        shown = _inspect(engine, cid)
        assert shown["HostConfig"]["UsernsMode"] == "host"
        assert _status_ids(shown["State"]["Pid"], "Uid") == ["0"] * 4
        with open(f"/proc/{shown['State']['Pid']}/uid_map") as f:
            assert f.read().split() == ["0", "0", "4294967295"]
    finally:
        engine.docker("rm", "-f", cid)
    cid = _ok(engine, "create", IMAGE, "true").strip()
    try:
        assert _inspect(engine, cid)["HostConfig"]["UsernsMode"] == ""  # as the user gave it
    finally:
        engine.docker("rm", "-f", cid)


@pytest.mark.parametrize("flags", [["--privileged"], ["--network", "host"], ["--pid", "host"]])
def test_dockerds_refusals(remapped: Berthd, remapped_dockerd: Dockerd, flags: list[str]) -> None:
    ours = remapped.docker("run", "--rm", *flags, IMAGE, "true")
    theirs = remapped_dockerd.docker("run", "--rm", *flags, IMAGE, "true")
    assert ours.returncode == theirs.returncode == 125
    assert ours.stderr == theirs.stderr
    assert "user namespaces" in ours.stderr


def test_runc_is_refused_clearly(remapped: Berthd) -> None:
    r = remapped.docker("run", "--rm", "--runtime", "runc", IMAGE, "true")
    assert r.returncode == 125 and "--userns-remap: berth runs remapped containers under berth-runc only" in r.stderr
    assert _ok(remapped, "run", "--rm", "--runtime", "runc", "--userns", "host", "--network", "none", IMAGE,
               "id", "-u").strip() == "0"


def test_privileged_with_userns_host_runs(remapped: Berthd) -> None:
    """(dockerd cannot run a privileged container on these machines: tests/clients/test_playground.py)"""
    out = _ok(remapped, "run", "--rm", "--network", "none", "--privileged", "--userns", "host", IMAGE, "id", "-u")
    assert out.strip() == "0"


def test_info_says_userns(remapped: Berthd, remapped_dockerd: Dockerd) -> None:
    for e in (remapped, remapped_dockerd):
        assert "name=userns" in json.loads(_ok(e, "info", "--format", "{{json .SecurityOptions}}"))
    r = subprocess.run([os.path.join(os.path.dirname(BERTHD), "berth"), "-H", remapped.host, "info"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "\n Security Options:\n" in r.stdout and "\n  userns\n" in r.stdout


def test_a_new_volume_belongs_to_the_remapped_root(engine: Engine) -> None:
    out = _ok(engine, "run", "--rm", "--network", "none", "-v", "userns-vol:/data", IMAGE, "sh", "-c",
              "touch /data/f && ls -lnd /data /data/f | awk '{print $3, $4}'")
    try:
        assert out.split("\n")[:2] == ["0 0", "0 0"]
        path = json.loads(_ok(engine, "volume", "inspect", "userns-vol"))[0]["Mountpoint"]
        st = os.stat(os.path.join(path, "f"))
        assert (st.st_uid, st.st_gid) == (_subordinate(), _subordinate("/etc/subgid"))
    finally:
        engine.docker("volume", "rm", "userns-vol")


def _dockerd_start_error(remap: str) -> tuple[int, str]:
    d = subprocess.run(["mktemp", "-d"], capture_output=True, text=True).stdout.strip()
    try:
        r = subprocess.run(["dockerd", "--userns-remap", remap, "--host", f"unix://{d}/s.sock", "--data-root",
                            f"{d}/data", "--exec-root", f"{d}/exec", "--pidfile", f"{d}/p.pid", "--bridge", "none",
                            "--iptables=false", "--ip6tables=false"], capture_output=True, text=True, timeout=60)
        return r.returncode, r.stderr.strip().splitlines()[-1]
    finally:
        subprocess.run(["rm", "-rf", d])


@pytest.mark.parametrize("remap", ["nobody:nogroup", "65534:65534", "no-such-user", "root:no-such-group"])
def test_a_user_without_ranges_stops_berthd_as_dockerd(remap: str, tmp_path) -> None:
    r = subprocess.run([BERTHD, "--userns-remap", remap, "-H", f"unix://{tmp_path}/s.sock",
                        "--data-root", str(tmp_path / "d"), "--exec-root", str(tmp_path / "e")],
                       capture_output=True, text=True, timeout=60)
    code, message = _dockerd_start_error(remap)
    assert (r.returncode, r.stderr.strip()) == (code, message) == (1, message)
    assert not os.path.exists(tmp_path / "d")


def test_shifted_layers_go_with_their_image_and_nothing_is_left(image_tar: str) -> None:
    """A private engine: run, rm, rmi, stop; no copy, mount or process of it is left."""
    with berthd_with_image("berthd-userns-gc-", ["--userns-remap", "default"], image_tar) as d:
        shifted = os.path.join(d.data_root, "containerd", "snapshots", "remapped")
        _ok(d, "run", "--rm", "--network", "none", IMAGE, "true")
        assert len(os.listdir(shifted)) == 1
        cid = _ok(d, "run", "-d", "--network", "none", IMAGE, "sleep", "600").strip()
        _ok(d, "rm", "-f", cid)
        with open("/proc/mounts") as f:
            assert [line for line in f if cid in line] == []
        _ok(d, "rmi", IMAGE)
        assert os.listdir(shifted) == []
        d.stop()
        with open("/proc/mounts") as f:
            assert [line for line in f if d.root in line] == []
        assert _pids_mentioning(d.root) == []
    _subordinate()


def test_commit_and_cp_use_the_containers_ids(engine: Engine, tmp_path) -> None:
    """The layer of a commit and the tar of an export hold the container's ids, not the host's,
    as dockerd's; its cp out gives the host's (dockerd's archivePath maps nothing); a file
    copied in is the container's root's (on the host: the subordinate id)."""
    cid = _ok(engine, "run", "-d", "--network", "none", IMAGE, "sleep", "600").strip()
    image = f"userns-commit-{cid[:8]}"
    try:
        _ok(engine, "exec", cid, "sh", "-c", "echo c > /c")  # done when it answers
        _ok(engine, "commit", cid, image)
        out = _ok(engine, "run", "--rm", "--network", "none", image, "ls", "-ln", "/c")
        assert out.split()[2:4] == ["0", "0"]
        if isinstance(engine, Berthd):  # the layer itself, seen unmapped (dockerd's are all shifted)
            out = _ok(engine, "run", "--rm", "--network", "none", "--userns", "host", image, "ls", "-ln", "/c")
            assert out.split()[2:4] == ["0", "0"]
        r = subprocess.run(["docker", "cp", f"{cid}:/c", "-"], env=engine.env, capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        with tarfile.open(fileobj=io.BytesIO(r.stdout)) as t:
            assert [(m.name, m.uid, m.gid) for m in t.getmembers()] == [("c", _subordinate(), _subordinate("/etc/subgid"))]
        r = subprocess.run(["docker", "export", cid], env=engine.env, capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        with tarfile.open(fileobj=io.BytesIO(r.stdout)) as t:
            assert {(m.uid, m.gid) for m in t.getmembers() if m.name.lstrip("./") in ("c", "bin/busybox")} == {(0, 0)}
        src = tmp_path / "in"
        src.write_text("in\n")
        os.chown(src, 0, 0)
        _ok(engine, "cp", str(src), f"{cid}:/in")
        assert _ok(engine, "exec", cid, "ls", "-ln", "/in").split()[2:4] == ["0", "0"]
        st = os.stat(os.path.join(_inspect(engine, cid)["GraphDriver"]["Data"]["UpperDir"], "in"))
        assert st.st_uid == _subordinate()
    finally:
        engine.docker("rm", "-f", cid)
        engine.docker("rmi", image)


def test_a_build_runs_remapped_and_its_layers_are_the_images(remapped: Berthd, tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN id -u > /who && touch /made\n")
    r = subprocess.run(["docker", "build", "-q", "-t", "userns-built", str(tmp_path)],
                       env={**remapped.env, "DOCKER_BUILDKIT": "0"}, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    try:
        out = _ok(remapped, "run", "--rm", "--network", "none", "--userns", "host", "userns-built", "sh", "-c",
                  "cat /who; ls -ln /made | awk '{print $3, $4}'")
        assert out.split("\n")[:2] == ["0", "0 0"]
    finally:
        remapped.docker("rmi", "userns-built")


def test_daemon_json_userns_remap(tmp_path) -> None:
    conf = tmp_path / "daemon.json"
    conf.write_text(json.dumps({"userns-remap": "nobody:nogroup"}))
    r = subprocess.run([BERTHD, "--config-file", str(conf), "-H", f"unix://{tmp_path}/s.sock",
                        "--data-root", str(tmp_path / "d"), "--exec-root", str(tmp_path / "e")],
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr.strip()) == (1, 'Can\'t create ID mappings: no subuid ranges found for user "nobody"')


def test_the_next_free_range_is_dockerds() -> None:
    from berth.daemon.security.userns import next_range_start

    assert next_range_start([]) == 100000
    assert next_range_start([(100000, 65536)]) == 165536
    assert next_range_start([(165536, 65536), (100000, 65536)]) == 231072
    assert next_range_start([(50000, 10), (300000, 10)]) == 100000
    assert next_range_start([(165536, 10)]) == 165546  # touching counts as overlapping, as in dockerd
