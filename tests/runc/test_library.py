"""berth.runc as a library, the way the shim uses it: no new interpreter per container."""

from __future__ import annotations

import os
import signal

import pytest

from berth import runc


@pytest.fixture
def root(tmp_path):
    path = str(tmp_path / "state")
    yield path
    if os.path.isdir(path):
        for cid in os.listdir(path):
            try:
                runc.delete(path, cid, force=True)
            except runc.RuncError:
                pass


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def test_create_start_wait_delete_with_pipes(root, bundle, cid):
    r_out, w_out = os.pipe()
    r_err, w_err = os.pipe()
    null = os.open("/dev/null", os.O_RDONLY)
    pid = runc.create(root, cid, bundle(["sh", "-c", "echo hello; echo oops >&2; exit 4"]),
                      stdio=(null, w_out, w_err))
    for fd in (null, w_out, w_err):
        os.close(fd)
    assert runc.state(root, cid)["status"] == "created"
    runc.start(root, cid)
    # the init is our own child: the caller can wait for it directly
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 4
    assert _read_all(r_out) == b"hello\n" and _read_all(r_err) == b"oops\n"
    assert runc.state(root, cid)["status"] == "stopped"
    runc.delete(root, cid)
    assert not os.path.exists(os.path.join(root, cid))


def test_kill_ps_and_exec(root, bundle, cid):
    pid = runc.create(root, cid, bundle(["sleep", "1000"]))
    runc.start(root, cid)
    assert runc.ps(root, cid) == [pid]
    r, w = os.pipe()
    proc = runc.exec_process(root, cid, {"args": ["sh", "-c", "echo $$ in $(hostname)"], "cwd": "/",
                                         "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}},
                             stdio=(w, w, w))
    os.close(w)
    _, status = os.waitpid(proc, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _read_all(r) == b"2 in runc\n"  # pid 2 in the container's pid namespace
    runc.kill(root, cid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert runc.state(root, cid)["status"] == "stopped"
    runc.delete(root, cid)


def test_an_exec_takes_the_join_that_skips_the_migration_lock(root, bundle, cid, monkeypatch):
    """berth.runc.cgroups.join: the exec'd child is born in its unified cgroup and joins
    the v1 ones itself; neither fallback (a write of its pid by the parent) is taken.
    Membership alone (tests/runc/test_exec.py) would pass on the fallbacks too."""
    from berth.runc.cgroups import _proc, join as cgjoin

    if _proc.UNIFIED not in _proc.cgroup_mounts():
        pytest.skip("no cgroup2 hierarchy")
    joins, writes = [], []
    prepare = cgjoin.prepare
    monkeypatch.setattr(cgjoin, "prepare", lambda paths: joins.append(prepare(paths)) or joins[-1])
    monkeypatch.setattr(cgjoin, "write", lambda *args: writes.append(args))
    pid = runc.create(root, cid, bundle(["sleep", "1000"]))
    runc.start(root, cid)
    code, _ = _exec_status(root, cid, {"args": ["true"], "cwd": "/", "env": ["PATH=/bin"],
                                       "user": {"uid": 0, "gid": 0}})
    assert code == 0
    assert len(joins) == 1 and joins[0] is not None  # every cgroup opened: no join by the manager
    assert joins[0].born_in
    assert writes == []
    runc.kill(root, cid, signal.SIGKILL)
    os.waitpid(pid, 0)
    runc.delete(root, cid)


def test_errors_are_runc_errors_with_one_line(root, bundle, cid):
    with pytest.raises(runc.RuncError) as err:
        runc.create(root, cid, bundle(["nosuch"]))
    assert str(err.value) == 'unable to start container process: exec: "nosuch": executable file not found in $PATH'
    assert not os.path.exists(os.path.join(root, cid))
    with pytest.raises(runc.RuncError, match="container does not exist"):
        runc.state(root, cid)


def test_create_starts_no_threads(root, bundle, cid):
    import threading

    before = threading.active_count()
    tasks_before = set(os.listdir("/proc/self/task"))  # earlier tests may have left threads
    runc.create(root, cid, bundle(["true"]))
    assert threading.active_count() == before
    assert set(os.listdir("/proc/self/task")) - tasks_before == set()


def _exec_status(root: str, cid: str, process: dict, **kwargs) -> tuple[int, bytes]:
    r, w = os.pipe()
    try:
        proc = runc.exec_process(root, cid, process, stdio=(w, w, w), **kwargs)
    finally:
        os.close(w)
    out = _read_all(r)
    _, status = os.waitpid(proc, 0)
    return os.waitstatus_to_exitcode(status), out


def test_execs_in_one_process_follow_the_state_file(root, bundle, cid):
    """The caller that stays (the shim) keeps the container's record between execs while its
    state file is the same: a pause, a resume, a delete in between are seen by the next."""
    pid = runc.create(root, cid, bundle(["sleep", "1000"]))
    runc.start(root, cid)
    sh = {"args": ["sh", "-c", "grep Cap /proc/self/status"], "cwd": "/", "env": ["PATH=/bin"],
          "user": {"uid": 0, "gid": 0}, "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                                                         "permitted": ["CAP_KILL"], "ambient": ["CAP_NOSUCH"]}}
    code, first = _exec_status(root, cid, sh)
    assert code == 0 and b"CapEff:\t0000000000000020" in first and b"CapBnd:\t0000000000000020" in first
    assert _exec_status(root, cid, sh) == (0, first)
    runc.pause(root, cid)
    with pytest.raises(runc.RuncError, match="cannot exec in a paused container"):
        runc.exec_process(root, cid, sh)
    runc.resume(root, cid)
    assert _exec_status(root, cid, sh) == (0, first)
    runc.kill(root, cid, signal.SIGKILL)
    os.waitpid(pid, 0)
    with pytest.raises(runc.RuncError, match="cannot exec in a stopped container"):
        runc.exec_process(root, cid, sh)
    runc.delete(root, cid)
    with pytest.raises(runc.RuncError, match="container does not exist"):
        runc.exec_process(root, cid, sh)
