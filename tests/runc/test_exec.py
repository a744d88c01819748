"""`exec`: another process in a running container, with runc's flags and exit codes."""

from __future__ import annotations

import json

import pytest


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
