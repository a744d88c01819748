"""`exec`: another process in a running container, with runc's flags and exit codes."""

from __future__ import annotations

import json
import os

import pytest

from berth.runc.cgroups._proc import cgroup_mounts
from tests.host import procs_files


@pytest.fixture
def running(runtime, bundle, cid):
    runtime("run", "-d", "--bundle", bundle(["sleep", "1000"]), cid, check=True)
    return cid


def test_exec_returns_the_exit_status_and_output(runtime, running):
    out = runtime("exec", running, "sh", "-c", "echo hi; exit 5")
    assert (out.returncode, out.stdout) == (5, "hi\n")


def test_exec_flags(runtime, running):
    out = runtime("exec", "--cwd", "/proc", "-e", "X=1", "-u", "65534:65534", "-g", "10", running,
                  "sh", "-c", "pwd; echo $X; id; grep -E '^(Cap|NoNew)' /proc/self/status")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:3] == ["/proc", "1", "uid=65534(nobody) gid=65534(nogroup) groups=10"]


def test_exec_matches_runc(runtimes, bundle):
    seen = {}
    for name, rt in runtimes.items():
        rt("run", "-d", "--bundle", bundle(["sleep", "1000"]), "x", check=True)
        out = rt("exec", "--no-new-privs", "-u", "1000", "x", "sh", "-c",
                 "grep -E '^(Cap|NoNew|Uid|Gid|Groups)' /proc/self/status; sed 's/berth-test-[0-9a-f]*/CG/' /proc/self/cgroup;"
                 " set -- /proc/[0-9]*; echo $#")  # the shell's own glob counts: no ls racing its grep
        seen[name] = (out.returncode, out.stdout)
    assert seen["berth-runc"] == seen["runc"]


def test_exec_of_a_missing_command(runtime, running):
    out = runtime("exec", running, "nosuch")
    assert out.returncode == 255
    assert 'exec failed: unable to start container process: exec: \\"nosuch\\": executable file not found in $PATH' in out.stderr


def test_exec_detached_with_pid_file(runtime, running, tmp_path):
    pid_file = tmp_path / "exec.pid"
    assert runtime("exec", "-d", "--pid-file", str(pid_file), running, "sleep", "500").returncode == 0
    pid = int(pid_file.read_text())
    assert pid in json.loads(runtime("ps", "--format", "json", running).stdout)


def test_exec_process_file(runtime, running, tmp_path):
    proc = {"args": ["sh", "-c", "echo from file; id -u"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 7, "gid": 7}}
    path = tmp_path / "process.json"
    path.write_text(json.dumps(proc))
    out = runtime("exec", "--process", str(path), running)
    assert (out.returncode, out.stdout) == (0, "from file\n7\n")


def test_exec_into_a_user_namespace_matches_runc(runtimes, bundle):
    def userns(spec: dict) -> None:
        spec["linux"]["namespaces"].append({"type": "user"})
        spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        spec["mounts"] = [m for m in spec["mounts"] if m["type"] not in ("sysfs", "cgroup")]

    seen = {}
    for name, rt in runtimes.items():
        rt("run", "-d", "--bundle", bundle(["sleep", "1000"], edit=userns), "u", check=True)
        out = rt("exec", "u", "sh", "-c", "id; cat /proc/self/uid_map; grep -E '^(Cap|Sig)' /proc/self/status")
        seen[name] = (out.returncode, out.stdout)
    assert seen["berth-runc"] == seen["runc"]


def test_an_exec_inherits_what_it_does_not_say_as_runc_does(runtimes, bundle, tmp_path):
    # a process file without capabilities must not get all of root's; a uid without a
    # gid keeps the container's gid
    def as_user(spec: dict) -> None:
        spec["process"]["user"] = {"uid": 5, "gid": 100, "additionalGids": [7]}

    proc = tmp_path / "process.json"
    proc.write_text(json.dumps({"args": ["sh", "-c", "grep -E '^Cap' /proc/self/status"],
                                "cwd": "/", "env": ["PATH=/bin"]}))
    seen = {}
    for name, rt in runtimes.items():
        rt("run", "-d", "--bundle", bundle(["sleep", "1000"], edit=as_user), "x", check=True)
        caps = rt("exec", "--process", str(proc), "x")
        ids = rt("exec", "--user", "1000", "x", "id")
        seen[name] = (caps.returncode, caps.stdout, ids.returncode, ids.stdout)
    assert seen["berth-runc"] == seen["runc"]
    assert "gid=100" in seen["runc"][3]


def test_an_exec_is_in_every_cgroup_of_its_container(runtime, running, tmp_path):
    # the child joins by itself (v1 `tasks`, clone3 into the unified one): the whole
    # process, in every hierarchy the init is in
    pid_file = tmp_path / "exec.pid"
    assert runtime("exec", "-d", "--pid-file", str(pid_file), running, "sleep", "500").returncode == 0
    pid, init = int(pid_file.read_text()), runtime.state(running)["pid"]
    files = procs_files(init)
    assert len(files) == len(set(cgroup_mounts().values())), files  # every hierarchy of the host
    assert procs_files(pid) == files
    for path in files:
        with open(path) as f:
            assert str(pid) in f.read().split(), path


def _alive_in_pidns_of(pid: int) -> list[int]:
    """The processes (zombies left out: they have ended) in the pid namespace of `pid`."""
    ns, found = os.readlink(f"/proc/{pid}/ns/pid"), []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.readlink(f"/proc/{entry}/ns/pid") == ns:
                with open(f"/proc/{entry}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                        found.append(int(entry))
        except OSError:
            continue
    return found


def test_an_exec_into_a_cgroup_that_vanished_fails_in_the_same_words(runtimes, bundle):
    # the container's pids cgroup removed under it (its init moved out first): the exec fails
    # in both runtimes, ours with the words of its join by pid, and nothing of it stays
    if "pids" not in cgroup_mounts():
        pytest.skip("no cgroup v1 pids hierarchy on this host")
    out = {}
    for name, rt in runtimes.items():
        rt("run", "-d", "--bundle", bundle(["sleep", "1000"]), "v", check=True)
        init = rt.state("v")["pid"]
        procs = next(p for p in procs_files(init) if "/pids/" in p)
        with open(os.path.join(cgroup_mounts()["pids"].mountpoint, "cgroup.procs"), "w") as f:
            f.write(str(init))
        os.rmdir(os.path.dirname(procs))
        out[name] = (rt("exec", "v", "true"), procs, init, _alive_in_pidns_of(init))
    for name, (r, procs, init, alive) in out.items():
        assert r.returncode == 255 and f"{procs}: no such file or directory" in r.stderr, (name, r.stderr)
        assert alive == [init], (name, alive)
    assert 'exec failed: failed to write \\"' in out["berth-runc"][0].stderr
    for name, rt in runtimes.items():  # its pids cgroup gone, the container still goes
        assert rt("delete", "-f", "v").returncode == 0, name
