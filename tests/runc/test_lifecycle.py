"""A container's life on the command line, under runc and berth-runc alike."""

from __future__ import annotations

import json
import os
import time

import pytest


def _wait_stopped(runtime, cid: str) -> dict:
    """kill is asynchronous: poll state until the init has gone (no time limit asserted)."""
    for _ in range(3000):
        st = runtime.state(cid)
        if st["status"] == "stopped":
            return st
        time.sleep(0.01)
    raise AssertionError(f"{cid} never stopped")


def test_create_start_kill_delete(runtime, bundle, cid):
    b = bundle(["sleep", "1000"])
    assert runtime("create", "--bundle", b, cid).returncode == 0

    st = runtime.state(cid)
    assert st["status"] == "created"
    assert st["id"] == cid and st["bundle"] == b and st["pid"] > 0
    assert list(st) == ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"]
    with open(f"/proc/{st['pid']}/status") as f:
        assert "NSpid:\t%d\t1\n" % st["pid"] in f.read()

    assert runtime("start", cid).returncode == 0
    assert runtime.state(cid)["status"] == "running"
    with open(f"/proc/{st['pid']}/cmdline", "rb") as f:
        assert f.read() == b"sleep\x001000\x00"

    assert runtime("kill", cid, "KILL").returncode == 0
    assert _wait_stopped(runtime, cid)["pid"] == 0
    assert runtime("delete", cid).returncode == 0
    assert runtime.ids() == []
    assert not os.path.exists(os.path.join(runtime.root, cid))


def test_run_returns_the_exit_status_and_output(runtime, bundle, cid):
    out = runtime("run", "--bundle", bundle(["sh", "-c", "echo out; echo err >&2; exit 7"]), cid)
    assert (out.returncode, out.stdout, out.stderr) == (7, "out\n", "err\n")
    assert runtime.ids() == []


def test_run_killed_by_a_signal_exits_128_plus_signal(runtime, bundle, cid):
    import subprocess

    fg = subprocess.Popen([runtime.binary, "--root", runtime.root, "run", "--bundle", bundle(["sleep", "1000"]), cid],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while cid not in runtime.ids() or runtime.state(cid)["status"] != "running":
            assert fg.poll() is None
        runtime("kill", cid, "KILL", check=True)
        assert fg.wait(timeout=60) == 137
    finally:
        if fg.poll() is None:
            fg.kill()
            fg.wait()


def test_run_detached_then_list(runtime, bundle, cid):
    b = bundle(["sleep", "1000"])
    assert runtime("run", "-d", "--bundle", b, cid).returncode == 0
    table = runtime("list").stdout.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert table[1].split()[0] == cid and table[1].split()[2] == "running"
    items = json.loads(runtime("list", "--format", "json").stdout)
    assert [(i["id"], i["status"], i["owner"]) for i in items] == [(cid, "running", "root")]
    assert runtime("list", "-q").stdout == cid + "\n"
    assert runtime("delete", "--force", cid).returncode == 0
    assert runtime("list", "--format", "json").stdout.strip() == "null"


def test_ps_lists_the_container_processes(runtime, bundle, cid):
    runtime("run", "-d", "--bundle", bundle(["sleep", "1000"]), cid, check=True)
    pid = runtime.state(cid)["pid"]
    assert json.loads(runtime("ps", "--format", "json", cid).stdout) == [pid]
    table = runtime("ps", cid).stdout.splitlines()
    assert "PID" in table[0] and str(pid) in table[1] and "sleep 1000" in table[1]


def test_delete_refuses_a_running_container_unless_forced(runtime, bundle, cid):
    runtime("run", "-d", "--bundle", bundle(["sleep", "1000"]), cid, check=True)
    pid = runtime.state(cid)["pid"]
    out = runtime("delete", cid)
    assert out.returncode == 1
    assert f"cannot delete container {cid} that is not stopped: running" in out.stderr
    assert runtime("delete", "--force", cid).returncode == 0
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_a_created_container_can_be_deleted(runtime, bundle, cid):
    runtime("create", "--bundle", bundle(["true"]), cid, check=True)
    assert runtime("delete", cid).returncode == 0
    assert runtime.ids() == []


@pytest.mark.parametrize("signal", ["TERM", "SIGTERM", "15", "term"])
def test_kill_accepts_names_and_numbers(runtime, bundle, cid, signal):
    # pid 1 ignores signals it has no handler for: the shell traps TERM
    runtime("run", "-d", "--bundle", bundle(["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]), cid, check=True)
    assert runtime("kill", cid, signal).returncode == 0
    assert _wait_stopped(runtime, cid)["status"] == "stopped"


def test_kill_all_reaches_every_process(runtime, bundle, cid):
    runtime("run", "-d", "--bundle", bundle(["sh", "-c", "sleep 1000 & sleep 1000"]), cid, check=True)
    runtime("exec", "-d", cid, "sleep", "999", check=True)
    pids = json.loads(runtime("ps", "--format", "json", cid).stdout)
    assert len(pids) >= 3
    assert runtime("kill", "--all", cid, "KILL").returncode == 0
    _wait_stopped(runtime, cid)
    for _ in range(3000):
        if not json.loads(runtime("ps", "--format", "json", cid).stdout or "[]"):
            break
        time.sleep(0.01)
    assert runtime("ps", "--format", "json", cid).stdout == "null\n"  # runc's empty list


def test_start_twice_is_an_error(runtime, bundle, cid):
    runtime("run", "-d", "--bundle", bundle(["sleep", "1000"]), cid, check=True)
    out = runtime("start", cid)
    assert out.returncode == 1 and "cannot start an already running container" in out.stderr


def test_kill_of_a_stopped_container_is_an_error(runtime, bundle, cid):
    runtime("run", "-d", "--bundle", bundle(["true"]), cid, check=True)
    _wait_stopped(runtime, cid)
    out = runtime("kill", cid, "KILL")
    assert out.returncode == 1 and "container not running" in out.stderr


def test_pid_file(runtime, bundle, cid, tmp_path):
    pid_file = tmp_path / "init.pid"
    runtime("create", "--bundle", bundle(["true"]), "--pid-file", str(pid_file), cid, check=True)
    assert int(pid_file.read_text()) == runtime.state(cid)["pid"]


def test_annotations_appear_in_state(runtime, bundle, cid):
    runtime("create", "--bundle", bundle(["true"], annotations={"org.example": "yes"}), cid, check=True)
    assert runtime.state(cid)["annotations"] == {"org.example": "yes"}


def test_spec_writes_runcs_default_config(runtime, tmp_path):
    assert runtime("spec", "--bundle", str(tmp_path)).returncode == 0
    spec = json.loads((tmp_path / "config.json").read_text())
    assert spec["process"]["args"] == ["sh"] and spec["root"] == {"path": "rootfs", "readonly": True}
    again = runtime("spec", "--bundle", str(tmp_path))
    assert again.returncode == 1


def test_pause_and_resume(runtime, bundle, cid):
    runtime("run", "-d", "--bundle", bundle(["sleep", "1000"]), cid, check=True)
    assert runtime("pause", cid).returncode == 0
    assert runtime.state(cid)["status"] == "paused"
    assert runtime("resume", cid).returncode == 0
    assert runtime.state(cid)["status"] == "running"
    out = runtime("resume", cid)
    assert out.returncode == 1 and "container not paused" in out.stderr


def test_features_is_json(runtime):
    out = runtime("features")
    assert out.returncode == 0
    doc = json.loads(out.stdout)
    assert "prestart" in doc["hooks"] and doc["ociVersionMax"] == "1.0.2-dev"


def test_update_changes_the_cgroup_and_events_report_it(runtime, bundle, cid):
    runtime("run", "-d", "--bundle", bundle(["sleep", "1000"]), cid, check=True)
    assert runtime("update", "--pids-limit", "42", "--memory", "64m", cid).returncode == 0
    pid = runtime.state(cid)["pid"]
    with open(f"/proc/{pid}/cgroup") as f:
        pids_path = next(line.split(":", 2)[2].strip() for line in f if line.split(":")[1] == "pids")
    with open(f"/sys/fs/cgroup/pids{pids_path}/pids.max") as f:
        assert f.read().strip() == "42"
    event = json.loads(runtime("events", "--stats", cid).stdout)
    assert event["type"] == "stats" and event["id"] == cid
    assert event["data"]["pids"]["limit"] == 42
    assert event["data"]["memory"]["usage"]["limit"] == 64 * 1024 * 1024


def test_preserve_fds_passes_extra_fds(runtime, bundle, cid, tmp_path):
    import subprocess

    secret = tmp_path / "secret"
    secret.write_text("through fd 3\n")
    b = bundle(["sh", "-c", "cat <&3; ls /proc/self/fd | tr '\\n' ' '"])
    # fd 3 is passed, fd 4 is not: only --preserve-fds N fds after stdio reach the process
    out = subprocess.run(["sh", "-c", f'exec 3<{secret} 4<{secret}; exec "$@"', "sh",
                          runtime.binary, "--root", runtime.root, "run", "--preserve-fds", "1", "--bundle", b, cid],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "through fd 3\n0 1 2 3 4 "  # 4 is ls's own directory fd
