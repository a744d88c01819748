"""OCI hooks: run a hook list with the container's state JSON on stdin."""

from __future__ import annotations

import json

from berth.runc.errors import RuncError

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any


def run_hooks(hooks: dict[str, Any] | None, name: str, state: dict[str, Any], *,
              env: dict[str, str] | None = None, cwd: str | None = None) -> None:
    """Run spec hooks[name] in order; the first failure is runc's error message.

    A hook without `env` of its own gets the environment of whoever runs it, as a Go
    exec.Cmd with a nil Env does: the runtime's for the hooks the runtime runs, the
    container process's (`env`) for those run in the container. runc runs the
    create-time hooks in the bundle and createContainer in the rootfs (`cwd`).
    """
    for i, hook in enumerate((hooks or {}).get(name) or []):
        run_hook(i, hook, state, env=env, cwd=cwd)


def run_hook(index: int, hook: dict[str, Any], state: dict[str, Any], *,
             env: dict[str, str] | None = None, cwd: str | None = None) -> None:
    import os
    import subprocess

    args = hook.get("args") or [hook["path"]]
    if hook.get("env") is not None:
        env = dict(e.split("=", 1) for e in hook["env"] if "=" in e)
    elif env is None:
        env = _callers_environment(os.environ)
    try:
        proc = subprocess.run(args, executable=hook["path"], env=env, input=json.dumps(state).encode(),
                              capture_output=True, timeout=hook.get("timeout"), close_fds=True, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise RuncError(f"error running hook #{index}: timeout waiting for hook to finish") from None
    except OSError as e:
        raise RuncError(f"error running hook #{index}: fork/exec {hook['path']}: {e.strerror.lower()}") from None
    if proc.returncode != 0:
        status = f"exit status {proc.returncode}" if proc.returncode > 0 else f"signal: {-proc.returncode}"
        raise RuncError(f"error running hook #{index}: error running hook: {status}, "
                        f"stdout: {proc.stdout.decode(errors='replace')}, "
                        f"stderr: {proc.stderr.decode(errors='replace')}")  # newlines kept, as runc


def _callers_environment(environ: Any) -> dict[str, str]:
    """Our environment as the caller gave it: without the LC_CTYPE=C.UTF-8 that Python
    adds to its own at start-up under the C locale (PEP 538), which a Go runtime would
    not pass on."""
    env = dict(environ)
    if env.get("LC_CTYPE") == "C.UTF-8" and "LC_ALL" not in env and env.get("LANG", "C") in ("C", "POSIX"):
        del env["LC_CTYPE"]
    return env
