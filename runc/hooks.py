"""OCI hooks: run a hook list with the container's state JSON on stdin."""

from __future__ import annotations

import json

from berth.runc.errors import RuncError

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any


def run_hooks(hooks: dict[str, Any] | None, name: str, state: dict[str, Any]) -> None:
    """Run spec hooks[name] in order; the first failure is runc's error message."""
    for i, hook in enumerate((hooks or {}).get(name) or []):
        run_hook(i, hook, state)


def run_hook(index: int, hook: dict[str, Any], state: dict[str, Any]) -> None:
    import subprocess

    args = hook.get("args") or [hook["path"]]
    env = dict(e.split("=", 1) for e in hook.get("env") or [] if "=" in e)
    try:
        proc = subprocess.run(args, executable=hook["path"], env=env, input=json.dumps(state).encode(),
                              capture_output=True, timeout=hook.get("timeout"), close_fds=True)
    except subprocess.TimeoutExpired:
        raise RuncError(f"error running hook #{index}: timeout waiting for hook to finish") from None
    except OSError as e:
        raise RuncError(f"error running hook #{index}: fork/exec {hook['path']}: {e.strerror.lower()}") from None
    if proc.returncode != 0:
        status = f"exit status {proc.returncode}" if proc.returncode > 0 else f"signal: {-proc.returncode}"
        raise RuncError(f"error running hook #{index}: error running hook: {status}, "
                        f"stdout: {proc.stdout.decode(errors='replace')}, "
                        f"stderr: {proc.stderr.decode(errors='replace')}".replace("\n", " "))
