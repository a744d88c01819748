"""`exec` and `attach`: a session with a process in a running container.

exec is docker's: POST /containers/{id}/exec, then /exec/{id}/start hijacked (our
stdin in with -i, its output out; with -t our terminal raw and its window following
ours through /exec/{id}/resize), then its exit code from GET /exec/{id}/json.  With
-d the start is detached and nothing is waited for.  attach joins the container's
own process the same way; with a tty, the detach keys (Ctrl-P Ctrl-Q) leave it
running and end the session with docker's "read escape sequence".
"""

from __future__ import annotations

import os

from berth.client import attach, streams, terminal
from berth.client.api import Client, DaemonError
from berth.client.flags import Parsed
from berth.client.run import _ForwardSignals, stdin_keys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.client.main import Context

_ESCAPE = "read escape sequence"  # docker's EscapeError, after a detach from attach/exec


def _env(options: dict) -> list[str]:
    """-e and --env-file as docker's CLI reads them: NAME alone takes our value, if we have one."""
    lines: list[str] = []
    for path in options.get("env_file") or []:
        with open(path, encoding="utf-8") as f:
            lines += [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
    out = []
    for item in lines + list(options.get("env") or []):
        if "=" in item:
            out.append(item)
        elif item in os.environ:
            out.append(f"{item}={os.environ[item]}")
    return out


def _session(client: Client, stream, tty: bool, stdin: bool, keys: str, resize_path: str) -> bool:
    """Copy both ways until the output ends; True if the user detached."""
    copier = None
    raw = tty and stdin and terminal.stdin_is_tty()
    window = attach.FollowWindow(client, "", resize_path) if tty else None
    with terminal.Raw(raw):
        if window is not None:
            window.__enter__()
        try:
            if stdin:
                copier = attach.start_stdin(stream, stdin_keys(keys, tty))
            attach.copy_output(stream, tty)
        finally:
            if window is not None:
                window.__exit__()
            stream.close()
    return copier is not None and copier.detached


def cmd_exec(ctx: Context, parsed: Parsed) -> int:
    o = parsed.opts
    container, cmd = parsed.args[0], parsed.args[1:]
    tty, stdin, detach = bool(o["tty"]), bool(o["interactive"]), bool(o["detach"])
    if tty and stdin and not detach and not terminal.stdin_is_tty():
        ctx.err(f"{terminal.NOT_A_TTY}\n")
        return 1
    try:
        env = _env(o)
    except OSError as e:
        ctx.err(f"open {e.filename}: {(e.strerror or str(e)).lower()}\n")
        return 125
    body: dict = {"User": o["user"] or "", "Privileged": bool(o["privileged"]), "Tty": tty,
                  "AttachStdin": stdin and not detach, "AttachStdout": not detach,
                  "AttachStderr": not detach, "DetachKeys": o["detach_keys"] or "", "Env": env or None,
                  "WorkingDir": o["workdir"] or "", "Cmd": cmd}
    size = terminal.size() if tty else None
    if size:
        body["ConsoleSize"] = list(size)
    client = ctx.client()
    eid = client.post(f"/containers/{container}/exec", None, {k: v for k, v in body.items() if v is not None})["Id"]
    if detach:
        client.call("POST", f"/exec/{eid}/start", None, {"Detach": True, "Tty": tty})
        return 0
    stream = client.stream("POST", f"/exec/{eid}/start", None, {"Detach": False, "Tty": tty},
                           headers={"Connection": "Upgrade", "Upgrade": "tcp"})
    if _session(client, stream, tty, stdin, o["detach_keys"] or "", f"/exec/{eid}/resize"):
        ctx.err(f"{_ESCAPE}\n")
        return 1
    code = client.get(f"/exec/{eid}/json").get("ExitCode")
    return int(code) if code is not None else 0


def cmd_attach(ctx: Context, parsed: Parsed) -> int:
    o = parsed.opts
    client = ctx.client()
    info = client.get(f"/containers/{parsed.args[0]}/json")
    state, config = info.get("State") or {}, info.get("Config") or {}
    if not state.get("Running"):
        ctx.err("You cannot attach to a stopped container, start it first\n")
        return 1
    if state.get("Paused"):
        ctx.err("You cannot attach to a paused container, unpause it first\n")
        return 1
    tty = bool(config.get("Tty"))
    stdin = bool(config.get("OpenStdin")) and not o["no_stdin"]
    if tty and stdin and not terminal.stdin_is_tty():
        ctx.err(f"{terminal.NOT_A_TTY}\n")
        return 1
    cid = info["Id"]
    waiter = client.start_request("POST", f"/containers/{cid}/wait", {"condition": "not-running"})
    try:
        try:
            stream = attach.open_attach(client, cid, stdin, o["detach_keys"] or "")
        except DaemonError as e:
            ctx.err(f"Error response from daemon: {e.message}\n")
            return 1
        signals = _ForwardSignals(client, cid) if o["sig_proxy"] and not tty else None
        try:
            if signals is not None:
                signals.__enter__()
            if _session(client, stream, tty, stdin, o["detach_keys"] or "", f"/containers/{cid}/resize"):
                ctx.err(f"{_ESCAPE}\n")
                return 1
        except streams.StreamError as e:
            ctx.err(f"Error: {e}\n")
            return 1
        finally:
            if signals is not None:
                signals.__exit__()
        result = waiter.result() or {}
    finally:
        waiter.close()
    return int(result.get("StatusCode", 0))
