"""README's install, for real on this machine: scripts/install, later scripts/uninstall.

Unlike the private engines the other test packages start under temporary
directories, an install is the machine's own: /opt/berth, the /usr/local/bin
links, /run/berth, /var/lib/berth, the `berth` group and cgroup parent. So test
sessions on one machine take turns through a lock, and what the install starts is
found by its pidfiles and by command lines naming /opt/berth, never by name.

A developer's install found here (/opt/berth exists) is not refused but upgraded
and left installed and running: that loses nothing of theirs (containers, images
and running containers survive a reinstall, which restarts berthd onto this
tree's code), whereas uninstalling would take their install away and refusing
would leave this test unrun on every machine set up as README says (install,
then test). Only a machine without an install is uninstalled and cleaned after.
The test marks the install it made (MARKER), so that one a killed test session
left behind is taken for the test's own, not a developer's, and removed the next time.
"""

from __future__ import annotations

import fcntl
import grp
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.host import alive, mounts_under

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREFIX = "/opt/berth"
COMMANDS = ["berth", "berthd", "berth-containerd", "berth-shim", "berth-runc"]
BERTH = "/usr/local/bin/berth"
BERTHD_PIDFILE = "/run/berth/berthd.pid"
CONTAINERD_PIDFILE = "/run/berth/berth-containerd.pid"  # daemon/libcontainerd/supervisor.py writes it
GROUP = "berth"  # berthd's default --group, created by berthd (daemon/http/access.py)
CGROUP_PARENT = "berth"
COMPLETION = "/usr/share/bash-completion/completions/berth"  # scripts/install puts it there
MADE_BY_INSTALL = ["/var/lib/berth", "/run/berth", "/var/log/berth"]
_LOCK = "/run/lock/berth-install-test.lock"
MARKER = f"{PREFIX}/.installed-by-tests"  # scripts/uninstall removes it with the prefix
_RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"


def read_pid(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def prefix_processes() -> set[int]:
    """Live processes run from the installed venv: berthd, containerd, shims."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    mentions = f"{PREFIX}/venv/".encode() in f.read()
            except OSError:
                continue
            if mentions and alive(int(entry)):
                found.add(int(entry))
    return found


def run_as(user: str, *argv: str) -> subprocess.CompletedProcess:
    """argv as `user` in a fresh login's groups (runuser calls initgroups), with a
    plain user's environment rather than root's (no pyenv on PATH, no BERTH_HOST)."""
    return subprocess.run([_RUNUSER, "-u", user, "--", *argv], capture_output=True, text=True,
                          cwd="/", env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"},
                          timeout=120)


def _script(name: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("BERTH_PREFIX", "BERTH_HOST")}
    # umask 077: root's tightest, which must not keep the group's users out.
    return subprocess.run(["sh", "-c", f"umask 077 && exec scripts/{name}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)


@dataclass
class Install:
    preexisting: bool
    daemons: set[int] = field(default_factory=set)  # every berthd and containerd it started
    containers: list[str] = field(default_factory=list)  # made by tests; removed at the end

    def run(self) -> subprocess.CompletedProcess:
        """README's `scripts/install`, from this worktree's root."""
        r = _script("install")
        self.daemons |= {p for p in (read_pid(BERTHD_PIDFILE), read_pid(CONTAINERD_PIDFILE)) if p}
        return r


@dataclass
class _Found:
    """The machine before the test, so that only what the test made is removed."""
    paths: dict[str, bool]
    group: bool
    cgroups: bool
    processes: set[int]

    @classmethod
    def take(cls) -> "_Found":
        try:
            grp.getgrnam(GROUP)
            group = True
        except KeyError:
            group = False
        if os.path.exists(MARKER):  # a killed session's install: everything of it is the test's
            return cls(paths=dict.fromkeys([PREFIX, *MADE_BY_INSTALL], False), group=False, cgroups=False,
                       processes=set())
        return cls(paths={p: os.path.lexists(p) for p in [PREFIX, *MADE_BY_INSTALL]}, group=group,
                   cgroups=bool(_cgroup_dirs()), processes=prefix_processes())


def _cgroup_dirs() -> list[str]:
    base = "/sys/fs/cgroup"
    return [d for h in os.listdir(base) if os.path.isdir(d := os.path.join(base, h, CGROUP_PARENT))]


def _stale_venv() -> None:
    """The venv as the old scripts/install left it on these machines: made by root's
    own python3 (the one running the tests, a pyenv under /root), which others cannot run."""
    mine = os.path.realpath(sys.executable)
    if mine != os.path.realpath("/usr/bin/python3"):
        subprocess.run([mine, "-m", "venv", f"{PREFIX}/venv"], check=True, capture_output=True)


def _remove_what_the_test_made(found: _Found) -> list[str]:
    """After the uninstall: data, state, logs, group and cgroups the install made."""
    problems = []
    for path in MADE_BY_INSTALL:
        if found.paths[path] or not os.path.exists(path):
            continue
        if mounts := mounts_under(path):
            problems.append(f"mounts left under {path}: {mounts}")
            for m in reversed(mounts):
                subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(path, ignore_errors=True)
    if not found.cgroups:
        for base in _cgroup_dirs():
            for sub, _, _ in sorted(os.walk(base), key=lambda t: -len(t[0])):
                with open(os.path.join(sub, "cgroup.procs")) as f:
                    if pids := f.read().split():
                        problems.append(f"processes left in {sub}: {pids}")
                for pid in pids:
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        for base in _cgroup_dirs():
            for sub, _, _ in sorted(os.walk(base), key=lambda t: -len(t[0])):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass
    if not found.group and (r := _accounts("groupdel", GROUP)).returncode != 0:
        problems.append(f"groupdel {GROUP}: {r.stderr}")
    return problems


def _uninstall(inst: Install, found: _Found) -> list[str]:
    problems = []
    r = _script("uninstall")
    if r.returncode != 0:
        problems.append(f"scripts/uninstall failed ({r.returncode}): {r.stderr}")
    left = {p for p in inst.daemons if alive(p)} | (prefix_processes() - found.processes)
    if left:
        problems.append(f"processes of the install still running: {sorted(left)}")
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    problems += [f"{p} left behind" for p in [PREFIX, *(f"/usr/local/bin/{c}" for c in COMMANDS), COMPLETION]
                 if os.path.lexists(p)]
    return problems + _remove_what_the_test_made(found)


@pytest.fixture(scope="session")
def install() -> Iterator[Install]:
    with open(_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session's install test waits its turn
        found = _Found.take()
        inst = Install(preexisting=found.paths[PREFIX])
        problems: list[str] = []
        try:
            if not inst.preexisting:
                os.makedirs(PREFIX, exist_ok=True)
                with open(MARKER, "w") as f:  # first, so that a session killed mid-install is known
                    f.write("made by tests/install; removed by its teardown\n")
                _stale_venv()
            r = inst.run()
            assert r.returncode == 0, f"scripts/install failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
            yield inst
        finally:
            for cid in inst.containers:
                subprocess.run([BERTH, "rm", "-f", cid], capture_output=True, timeout=120)
            if not inst.preexisting:
                problems = _uninstall(inst, found)
    assert not problems, "\n".join(problems)


def _accounts(*argv: str) -> subprocess.CompletedProcess:
    """useradd and friends, again while another session's tests hold /etc/passwd's lock."""
    for _ in range(100):
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode == 0 or "lock" not in r.stderr:
            return r
        time.sleep(0.1)
    return r


def _new_user(groups: list[str]) -> Iterator[str]:
    name = f"bi-{uuid.uuid4().hex[:8]}"
    r = _accounts("useradd", "-M", name)
    assert r.returncode == 0, r.stderr
    try:
        for g in groups:  # as README says: add the user to the group, then log in again
            r = _accounts("usermod", "-aG", g, name)
            assert r.returncode == 0, r.stderr
        yield name
    finally:
        r = _accounts("userdel", name)
        assert r.returncode == 0, r.stderr


@pytest.fixture
def member(install: Install) -> Iterator[str]:
    yield from _new_user([GROUP])


@pytest.fixture
def outsider(install: Install) -> Iterator[str]:
    yield from _new_user([])
