"""Fixtures for the shim's tests: busybox bundles, shims on both runtimes, and a full cleanup."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import rootfs

from berth.shim import ShimOptions, ShimProcess, spawn
from berth.shim.client import ShimGone, ShimRequestError, call
from tests.host import alive, cgroup_dirs

RUNC = "/usr/sbin/runc"


def _library_ready() -> bool:
    from berth import runc

    try:
        runc.create, runc.start  # noqa: B018 - lazy attributes
    except (AttributeError, ImportError):
        return False
    return True


RUNTIMES = [
    pytest.param(RUNC, id="runc-cli"),
    pytest.param("berth", id="berth-lib", marks=pytest.mark.skipif(not _library_ready(),
                                                                   reason="berth.runc has no library entry point yet")),
]


@pytest.fixture(scope="session")
def shared_rootfs() -> Iterator[str]:
    """One busybox root for every bundle of the session (config.json points at it)."""
    root = tempfile.mkdtemp(prefix="berth-shim-rootfs-")
    rootfs.make_rootfs(root)
    yield root
    shutil.rmtree(root)


@dataclass
class Task:
    options: ShimOptions
    shim: ShimProcess
    cgroups_path: str

    def call(self, op: str, **fields: object) -> dict:
        return call(self.shim.socket_path, {"op": op, **fields}, timeout=30)

    def log_entries(self) -> list[dict]:
        with open(self.options.log_path) as f:
            return [json.loads(line) for line in f]


@dataclass
class Workspace:
    """A private directory for one test, with everything it started, to clean up."""

    dir: str
    rootfs: str
    runtime: str
    tasks: list[Task] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)

    @property
    def runtime_root(self) -> str:
        return os.path.join(self.dir, "runtime")

    def bundle(self, args: list[str], name: str | None = None, **process: object) -> tuple[str, str]:
        """Write a bundle running `args`; return (container id, bundle dir)."""
        cid = name or f"c-{uuid.uuid4().hex[:10]}"
        bundle = rootfs.make_bundle(os.path.join(self.dir, cid), args, rootfs=self.rootfs)
        with open(os.path.join(bundle, "config.json")) as f:
            spec = json.load(f)
        spec["process"].update(process)
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f)
        self.cgroups.append(spec["linux"]["cgroupsPath"])
        return cid, bundle

    def options(self, args: list[str], terminal: bool = False, stdin: bool = False) -> ShimOptions:
        cid, bundle = self.bundle(args, terminal=terminal)
        return ShimOptions(id=cid, bundle=bundle, runtime=self.runtime, runtime_root=self.runtime_root,
                           log_path=os.path.join(self.dir, "logs", f"{cid}-json.log"),
                           terminal=terminal, stdin=stdin)

    def spawn(self, args: list[str], **kwargs: bool) -> Task:
        options = self.options(args, **kwargs)
        task = self.adopt(options, spawn(options))
        return task

    def adopt(self, options: ShimOptions, shim: ShimProcess) -> Task:
        with open(os.path.join(options.bundle, "config.json")) as f:
            task = Task(options, shim, json.load(f)["linux"]["cgroupsPath"])
        self.tasks.append(task)
        return task

    def cleanup(self) -> None:
        """Every shim under our directory (adopted or not), its container, its cgroups, the files."""
        bundles = [os.path.dirname(t.options.bundle) for t in self.tasks]
        for entry in [e for d in {self.dir, *bundles} for e in os.scandir(d) if e.is_dir()]:
            shim_pid_file = os.path.join(entry.path, "shim.pid")
            if not os.path.exists(shim_pid_file):
                continue
            try:
                call(os.path.join(entry.path, "shim.sock"), {"op": "delete", "force": True}, timeout=30)
            except (ShimGone, ShimRequestError, OSError):
                pass
            try:
                pid = int(open(shim_pid_file).read())
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
            except (FileNotFoundError, ProcessLookupError):
                pass
            subprocess.run([RUNC, "--root", self.runtime_root, "delete", "--force", entry.name],
                           capture_output=True)
        for cg in self.cgroups:
            for d in cgroup_dirs(cg):
                os.rmdir(d)
        shutil.rmtree(self.dir)


@pytest.fixture(params=RUNTIMES)
def workspace(request: pytest.FixtureRequest, shared_rootfs: str) -> Iterator[Workspace]:
    ws = Workspace(tempfile.mkdtemp(prefix="berth-shim-test-"), shared_rootfs, request.param)
    yield ws
    ws.cleanup()


@pytest.fixture
def spawn_task(workspace: Workspace) -> Callable[..., Task]:
    return workspace.spawn
