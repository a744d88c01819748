"""Fixtures for the runtime tests: bundles from busybox, and both runtimes side by side.

runc is the oracle: most tests take the `runtime` fixture, which is parametrized
over ["runc", "berth-runc"], so the same story runs under both. Each runtime gets
its own private --root; whatever a test leaves there is force-deleted afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import pytest

from rootfs import make_bundle, make_rootfs

RUNC = "/usr/sbin/runc"
BERTH_RUNC = os.path.join(os.path.dirname(sys.executable), "berth-runc")
RUNTIMES = {"runc": RUNC, "berth-runc": BERTH_RUNC}


@dataclass
class Runtime:
    """One runtime binary with a private state root; call it like the command line."""

    name: str
    binary: str
    root: str
    timeout: float = 60.0

    def __call__(self, *args: str, input: bytes | str | None = None, check: bool = False,
                 timeout: float | None = None, **kwargs: Any) -> subprocess.CompletedProcess:
        """Run the runtime; output goes through files, not pipes, because a detached
        container inherits them and would hold a pipe open forever."""
        text = not isinstance(input, bytes)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            rc = subprocess.run([self.binary, "--root", self.root, *args],
                                input=input.encode() if isinstance(input, str) else input,
                                stdin=None if input is not None else subprocess.DEVNULL,
                                stdout=out, stderr=err, timeout=timeout or self.timeout, **kwargs).returncode
            out.seek(0)
            err.seek(0)
            o, e = out.read(), err.read()
        proc = subprocess.CompletedProcess(args, rc, o.decode(errors="replace") if text else o,
                                           e.decode(errors="replace") if text else e)
        if check and proc.returncode != 0:
            raise AssertionError(f"{self.name} {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return proc

    def state(self, container_id: str) -> dict:
        return json.loads(self("state", container_id, check=True).stdout)

    def ids(self) -> list[str]:
        out = self("list", "-q")
        return out.stdout.split() if out.returncode == 0 else []

    def cleanup(self) -> None:
        for cid in self.ids():
            self("delete", "--force", cid)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class BundleFactory:
    """Makes bundles under a private directory; the busybox rootfs is built once and shared."""

    base: str
    _shared_rootfs: str | None = field(default=None, repr=False)

    def shared_rootfs(self) -> str:
        if self._shared_rootfs is None:
            self._shared_rootfs = make_rootfs(os.path.join(self.base, "shared-rootfs"))
        return self._shared_rootfs

    def __call__(self, args: list[str], *, private_rootfs: bool = False,
                 edit: Callable[[dict], None] | None = None, **overrides: Any) -> str:
        """A bundle running `args`; `edit(spec)` may change the config in place.

        The rootfs is shared unless `private_rootfs` (needed when the container
        writes to its root or the test changes files in it).
        """
        path = os.path.join(self.base, f"bundle-{uuid.uuid4().hex[:8]}")
        rootfs = None if private_rootfs else self.shared_rootfs()
        make_bundle(path, args, rootfs=rootfs, **overrides)
        if edit is not None:
            cfg = os.path.join(path, "config.json")
            with open(cfg) as f:
                spec = json.load(f)
            edit(spec)
            with open(cfg, "w") as f:
                json.dump(spec, f, indent=2)
        return path


@pytest.fixture(scope="session")
def _runc_base() -> Iterator[str]:
    base = tempfile.mkdtemp(prefix="berth-runc-test-")
    os.chmod(base, 0o755)  # containers with a user namespace run as unprivileged host uids
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def _session_bundles(_runc_base: str) -> BundleFactory:
    return BundleFactory(os.path.join(_runc_base, "bundles"))


@pytest.fixture
def bundle(_session_bundles: BundleFactory) -> BundleFactory:
    """Factory: bundle(["sh", "-c", "..."], edit=fn, **top_level_overrides) -> bundle dir."""
    return _session_bundles


def _make_runtime(name: str, base: str) -> Runtime:
    root = os.path.join(base, f"root-{name}-{uuid.uuid4().hex[:8]}")
    os.makedirs(root)
    return Runtime(name, RUNTIMES[name], root)


@pytest.fixture(params=list(RUNTIMES))
def runtime(request: pytest.FixtureRequest, _runc_base: str) -> Iterator[Runtime]:
    """The same test under runc (the oracle) and berth-runc, each with a private --root."""
    rt = _make_runtime(request.param, _runc_base)
    yield rt
    rt.cleanup()


@pytest.fixture
def runtimes(_runc_base: str) -> Iterator[dict[str, Runtime]]:
    """Both runtimes at once, for tests that compare their outputs directly."""
    rts = {name: _make_runtime(name, _runc_base) for name in RUNTIMES}
    yield rts
    for rt in rts.values():
        rt.cleanup()


@pytest.fixture
def berth_runc(_runc_base: str) -> Iterator[Runtime]:
    rt = _make_runtime("berth-runc", _runc_base)
    yield rt
    rt.cleanup()


@pytest.fixture
def cid() -> str:
    """A fresh container id."""
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def run_both(runtimes: dict[str, Runtime]) -> Callable[..., dict[str, subprocess.CompletedProcess]]:
    """run_both(bundle_dir, *flags): `run` it in the foreground under each runtime, keyed by name."""
    def _run(bundle_dir: str, *extra: str) -> dict[str, subprocess.CompletedProcess]:
        return {name: rt("run", "--bundle", bundle_dir, *extra, f"t-{uuid.uuid4().hex[:10]}")
                for name, rt in runtimes.items()}
    return _run
