"""The shim's view of the OCI runtime: runc's command line, or berth.runc in-process.

Both paths take the same arguments and fail with RuntimeFailure carrying the
runtime's own one-line message, so the rest of the shim never cares which it is.
"""

from __future__ import annotations

import json
import os
import signal as _signal
from dataclasses import dataclass
from typing import Any

from berth.shim import command
from berth.shim.options import RUNTIME_LIBRARY

Stdio = tuple[int, int, int]


class RuntimeFailure(Exception):
    """A runtime verb failed; str(e) is the message runc would print."""


@dataclass(frozen=True)
class Runtime:
    name: str  # "berth" (library) or a runc-compatible binary
    root: str
    log_path: str  # the CLI's --log file (json), where runc leaves its error message

    @property
    def is_library(self) -> bool:
        return self.name == RUNTIME_LIBRARY


def _verb(name: str) -> Any:
    """berth.runc's function for a verb (its verbs are imported lazily, on first use)."""
    from berth import runc

    try:
        return getattr(runc, name)
    except (AttributeError, ImportError) as e:
        raise RuntimeFailure(f"berth.runc has no library entry point for {name}: {e}") from None


def _runc_error() -> type[Exception]:
    from berth.runc.errors import RuncError

    return RuncError


def _last_error(log_path: str, offset: int) -> str:
    """The last error runc logged since `offset` (runc logs json lines with --log-format json)."""
    try:
        with open(log_path, "rb") as f:
            f.seek(offset)
            lines = f.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") in ("error", "fatal") and entry.get("msg"):
            return str(entry["msg"])
    return ""


def _log_size(log_path: str) -> int:
    try:
        return os.stat(log_path).st_size
    except FileNotFoundError:
        return 0


def _run_cli(rt: Runtime, args: list[str], stdio: Stdio | None = None) -> bytes:
    """Run one runc verb; its stdout is returned when stdio is not given."""
    argv = [rt.name, "--root", rt.root, "--log", rt.log_path, "--log-format", "json", *args]
    offset = _log_size(rt.log_path)
    # The container inherits stdio's fds: runc's stderr is then the container's, so the
    # error text comes from runc's log file, not from stderr (command.run captures nothing).
    returncode, stdout, stderr = command.run(argv, stdio)
    if returncode != 0:
        message = _last_error(rt.log_path, offset) or stderr.decode(errors="replace").strip()
        raise RuntimeFailure(message.splitlines()[-1] if message else f"{args[0]} failed: exit status {returncode}")
    return stdout


def _read_pid(pid_file: str) -> int:
    with open(pid_file) as f:
        return int(f.read().strip())


def create(rt: Runtime, id: str, bundle: str, stdio: Stdio, console_socket: str | None, pid_file: str) -> int:
    """Create the container (stopped before exec); return the host pid of its init."""
    if rt.is_library:
        return int(_call_library("create", rt.root, id, bundle, console_socket=console_socket,
                                 pid_file=pid_file, stdio=stdio))
    args = ["create", "--bundle", bundle, "--pid-file", pid_file]
    if console_socket:
        args += ["--console-socket", console_socket]
    _run_cli(rt, [*args, id], stdio)
    return _read_pid(pid_file)


def start(rt: Runtime, id: str) -> None:
    if rt.is_library:
        _call_library("start", rt.root, id)
    else:
        _run_cli(rt, ["start", id])


def kill(rt: Runtime, id: str, signal: int, all: bool = False) -> None:
    if rt.is_library:
        _call_library("kill", rt.root, id, signal, all=all)
    else:
        _run_cli(rt, ["kill", *(["--all"] if all else []), id, str(signal)])


def delete(rt: Runtime, id: str, force: bool = False) -> None:
    if rt.is_library:
        _call_library("delete", rt.root, id, force=force)
    else:
        _run_cli(rt, ["delete", *(["--force"] if force else []), id])


def ps(rt: Runtime, id: str) -> list[int]:
    if rt.is_library:
        return [int(p) for p in _call_library("ps", rt.root, id)]
    out = _run_cli(rt, ["ps", "--format", "json", id])
    return [int(p) for p in (json.loads(out or b"null") or [])]


def pause(rt: Runtime, id: str) -> None:
    """The freezer: every process of the container stops where it is."""
    if rt.is_library:
        _call_library("pause", rt.root, id)
    else:
        _run_cli(rt, ["pause", id])


def resume(rt: Runtime, id: str) -> None:
    if rt.is_library:
        _call_library("resume", rt.root, id)
    else:
        _run_cli(rt, ["resume", id])


def exec_process(rt: Runtime, id: str, process: dict, stdio: Stdio, console_socket: str | None,
                 pid_file: str, process_file: str) -> int:
    """Start an extra process in the container, detached; return its host pid."""
    if rt.is_library:
        kwargs: dict[str, Any] = {"stdio": stdio, "detach": True}
        if console_socket:
            kwargs["console_socket"] = console_socket
        return int(_in_process("exec_process", rt.root, id, process, **kwargs))
    with open(process_file, "w") as f:
        json.dump(process, f)
    args = ["exec", "--detach", "--process", process_file, "--pid-file", pid_file]
    if console_socket:
        args += ["--console-socket", console_socket]
    try:
        _run_cli(rt, [*args, id], stdio)
    finally:
        os.unlink(process_file)
    return _read_pid(pid_file)


def update(rt: Runtime, id: str, resources: dict, resources_file: str) -> None:
    """New limits for the container's cgroup (`runc update --resources FILE`)."""
    if rt.is_library:
        _call_library("update", rt.root, id, resources)
        return
    with open(resources_file, "w") as f:
        json.dump(resources, f)
    try:
        _run_cli(rt, ["update", "--resources", resources_file, id])
    finally:
        os.unlink(resources_file)


def _in_process(verb: str, *args: Any, **kwargs: Any) -> Any:
    """The verb in the shim itself, for exec: the process is forked from here straight
    into the container (non-dumpable from its first instruction, berth/runc/nodump.py),
    without a worker forked first and waited for; the little an exec touches (the
    container's state file, its cached seccomp filter) is not worth a fork per exec."""
    try:
        return _verb(verb)(*args, **kwargs)
    except _runc_error() as e:
        text = str(e).strip()
        raise RuntimeFailure(text.splitlines()[-1] if text else verb + " failed") from None
    except RuntimeFailure:
        raise
    except Exception as e:  # noqa: BLE001 - one line, as the worker's answer would be
        raise RuntimeFailure(f"{verb}: {type(e).__name__}: {e}") from None


def _call_library(verb: str, *args: Any, **kwargs: Any) -> Any:
    """The verb in a forked child, its answer back over a pipe.

    The runtime's work (the spec, seccomp, mounts, the fork of the init) touches
    megabytes of objects the shim shares copy-on-write with the fork server; done in
    the shim itself, each touched page would become the shim's own for as long as the
    container lives. Done in a child that exits, those pages are freed: the shim keeps
    only what its loop uses. The init the child forks is reparented to the shim (a
    subreaper), as it is after a `runc create`.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.close(r)
            _signal.set_wakeup_fd(-1)  # the shim's loop must not hear the child's SIGCHLDs
            _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
            try:
                answer: dict[str, Any] = {"value": _verb(verb)(*args, **kwargs)}
            except _runc_error() as e:
                answer = {"error": str(e).strip().splitlines()[-1] if str(e).strip() else verb + " failed"}
            except BaseException as e:  # noqa: BLE001 - the shim must hear something
                answer = {"error": f"{verb}: {type(e).__name__}: {e}"}
            data = json.dumps(answer).encode()
            while data:
                data = data[os.write(w, data):]
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    try:
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    try:
        answer = json.loads(b"".join(chunks))
    except ValueError:
        raise RuntimeFailure(f"{verb} failed: the runtime's worker ended without an answer") from None
    if "error" in answer:
        raise RuntimeFailure(answer["error"])
    return answer["value"]
