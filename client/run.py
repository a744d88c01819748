"""`run`, `create` and `start`: make a container, wire its output to ours, hand back its status.

The order is docker's: create, attach, ask to be told of the exit, start; so no
output and no exit can slip by between the steps. With -i our stdin goes to the
container over the attach connection; with -t the container gets a pty, our
terminal goes raw and the container's window follows ours (client/attach.py,
client/terminal.py). Exit codes are docker's: 125 when the daemon refuses, 126/127
when the command cannot be invoked or found, else the container's own status.
"""

from __future__ import annotations

import _signal  # signal's C core: the signal module imports enum to name its constants
import os

from berth.client import attach, limits, streams, terminal
from berth.client.api import Client, ConnectError, DaemonError
from berth.client.flags import Parsed, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.client.main import Context

# The signals docker's sig-proxy forwards, by number, with the name the kill request takes.
_PROXIED = {getattr(_signal, f"SIG{name}"): name for name in ("INT", "TERM", "HUP", "QUIT", "USR1", "USR2")}


def status_for(message: str) -> int:
    """docker's toStatusError: the exit code a failed run reports, from the daemon's words."""
    if ("executable file not found" in message or "no such file or directory" in message
            or "system cannot find the file specified" in message):
        return 127
    if "permission denied" in message or "is a directory" in message:
        return 126
    return 125


def _run_error(ctx: Context, command: str, message: str, status: int) -> int:
    ctx.err(f"berth: {message}\n\nRun 'berth {command} --help' for more information\n")
    return status


def container_config(parsed: Parsed, attach: bool) -> dict:
    """The body of POST /containers/create from run/create's flags.

    As docker's CLI: -i opens the container's stdin, and when we attach to it as well
    it is closed once our stdin ends (StdinOnce), so `echo hi | run -i IMAGE cat` ends.
    """
    o = parsed.opts
    interactive = bool(o.get("interactive"))
    attach_stdin = interactive and attach
    image, cmd = parsed.args[0], parsed.args[1:]
    env = []
    for item in o["env"]:
        if "=" in item:
            env.append(item)
        elif item in os.environ:  # `-e NAME` passes our own value along, as docker does
            env.append(f"{item}={os.environ[item]}")
    labels = {}
    for item in o["label"]:
        key, _, value = item.partition("=")
        labels[key] = value
    config: dict = {
        "Image": image,
        "AttachStdin": attach_stdin,
        "AttachStdout": attach,
        "AttachStderr": attach,
        "Tty": bool(o.get("tty")),
        "OpenStdin": interactive,
        "StdinOnce": attach_stdin,
        "Env": env or None,
        "Cmd": cmd or None,
        "Labels": labels or None,
        "WorkingDir": o["workdir"] or None,
        "User": o["user"] or None,
        "Hostname": o["hostname"] or None,
        "HostConfig": {"AutoRemove": bool(o.get("rm"))},
    }
    if o["runtime"]:
        config["HostConfig"]["Runtime"] = o["runtime"]
    if o["entrypoint"] is not None:
        config["Entrypoint"] = [o["entrypoint"]]  # [""] clears the image's entrypoint
    if o["network"]:
        config["HostConfig"]["NetworkMode"] = o["network"]
    if any(o.get(k) for k in ("cap_add", "cap_drop", "privileged", "security_opt", "read_only", "device",
                              "device_cgroup_rule", "sysctl")) or o.get("userns") is not None:
        from berth.client import secflags  # confinement flags: loaded only when given

        secflags.apply(o, config["HostConfig"])
    config["HostConfig"].update(limits.host_config(o))  # -m, --cpus, --pids-limit, --ulimit, ...
    if lifecycle_flags_given(o):  # --restart, --health-*, --init, --log-*, ... (client/lifecycle.py)
        from berth.client import lifecycle

        lifecycle.apply(o, config)
    if any(o.get(f) for f in ("publish", "publish_all", "expose", "add_host", "dns", "dns_search", "dns_option",
                              "ip", "mac_address", "network_alias", "link")):
        from berth.client import network  # only when a network flag is given

        network.apply(config, o)
    if any(o.get(f) for f in ("volume", "mount", "tmpfs", "volumes_from")):
        from berth.client import mounts  # -v, --mount, --tmpfs, --volumes-from: only when given

        try:
            mounts.apply(config, o)
        except ValueError as e:
            raise UsageError(str(e), 125) from None
    size = terminal.size() if config["Tty"] else None
    if size:
        config["HostConfig"]["ConsoleSize"] = list(size)  # the pty starts at our size
    return {k: v for k, v in config.items() if v is not None}


def lifecycle_flags_given(o: dict) -> bool:
    return any(o.get(k) not in (None, "", []) for k in (
        "restart", "health_cmd", "health_interval", "health_timeout", "health_retries", "health_start_period",
        "health_start_interval", "no_healthcheck", "init", "stop_signal", "stop_timeout", "group_add",
        "label_file", "log_driver", "log_opt"))


def create(ctx: Context, client: Client, parsed: Parsed, attach: bool) -> str:
    """POST /containers/create, pulling the image first when the daemon does not have it."""
    body = container_config(parsed, attach)
    query = {"name": parsed.opts["name"]}
    try:
        result = client.post("/containers/create", query, body)
    except DaemonError as e:
        if e.status != 404:
            raise
        from berth.client.images import familiar  # a missing image only: run skips images.py

        ctx.err(f"Unable to find image '{familiar(parsed.args[0])}' locally\n")
        from berth.client.pull import pull_for_run

        pull_for_run(ctx, client, parsed.args[0], parsed.opts.get("platform") or None)
        result = client.post("/containers/create", query, body)
    for warning in result.get("Warnings") or []:
        ctx.err(f"WARNING: {warning}\n")
    return result["Id"]


class _ForwardSignals:
    """For a `with` block: signals sent to us are sent to the container (docker's sig-proxy)."""

    def __init__(self, client: Client, cid: str) -> None:
        self.client = client
        self.cid = cid
        self._previous: dict[int, object] = {}

    def _forward(self, signum: int, _frame: object) -> None:
        try:
            self.client.post(f"/containers/{self.cid}/kill", {"signal": _PROXIED[signum]})
        except (DaemonError, ConnectError):
            pass

    def __enter__(self) -> None:
        for sig in _PROXIED:
            self._previous[sig] = _signal.signal(sig, self._forward)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            _signal.signal(sig, handler)


def stdin_keys(spec: str, tty: bool) -> bytes | None:
    """The detach sequence the stdin copy looks for: only with a tty, as docker's CLI;
    an invalid spec falls back to the default there (the daemon refuses it anyway)."""
    if not tty:
        return None
    try:
        return attach.detach_keys(spec) if spec else attach.DEFAULT_KEYS
    except ValueError:
        return attach.DEFAULT_KEYS


def _attach_and_start(ctx: Context, client: Client, cid: str, condition: str,
                      stdin: bool = False, tty: bool = False, keys: str = "") -> int:
    """Attach (stdin too with -i), start, copy the streams, return the exit status.

    Signals are forwarded only without a tty (docker's sig-proxy): with one, ^C is
    a byte for the container's own terminal to turn into SIGINT.
    """
    stream = attach.open_attach(client, cid, stdin, keys)
    waiter = None
    copier = None
    raw = tty and stdin and terminal.stdin_is_tty()
    try:
        waiter = client.start_request("POST", f"/containers/{cid}/wait", {"condition": condition})
        client.post(f"/containers/{cid}/start")
        window_or_signals = attach.FollowWindow(client, cid) if tty else _ForwardSignals(client, cid)
        with terminal.Raw(raw), window_or_signals:
            if stdin:
                copier = attach.start_stdin(stream, stdin_keys(keys, tty))
            attach.copy_output(stream, tty)
            if copier is not None and copier.detached:
                return 0  # Ctrl-P Ctrl-Q: the container goes on without us
            result = waiter.result() or {}
    finally:
        stream.close()
        if waiter is not None:
            waiter.close()
    error = (result.get("Error") or {}).get("Message")
    if error:
        ctx.err(f"berth: {error}\n")
        return 125
    return int(result.get("StatusCode", 0))


def cmd_run(ctx: Context, parsed: Parsed) -> int:
    client = ctx.client()
    detach = parsed.opts["detach"]
    interactive, tty = bool(parsed.opts.get("interactive")), bool(parsed.opts.get("tty"))
    if tty and interactive and not detach and not terminal.stdin_is_tty():
        ctx.err(f"{terminal.NOT_A_TTY}\n")  # docker's CheckTty, before anything is created
        return 1
    try:
        cid = create(ctx, client, parsed, attach=not detach)
        if detach:
            client.post(f"/containers/{cid}/start")
            ctx.out(f"{cid}\n")
            return 0
        condition = "removed" if parsed.opts["rm"] else "next-exit"
        return _attach_and_start(ctx, client, cid, condition, stdin=interactive, tty=tty,
                                 keys=parsed.opts.get("detach_keys") or "")
    except UsageError as e:  # a flag's value docker's CLI refuses (--sysctl, --device, ...)
        return _run_error(ctx, "run", str(e), e.status)
    except DaemonError as e:
        return _run_error(ctx, "run", f"Error response from daemon: {e.message}", status_for(e.message))
    except ConnectError as e:
        return _run_error(ctx, "run", str(e), 125)
    except streams.StreamError as e:
        return _run_error(ctx, "run", str(e), 125)


def cmd_create(ctx: Context, parsed: Parsed) -> int:
    try:
        cid = create(ctx, ctx.client(), parsed, attach=True)
    except UsageError as e:
        return _run_error(ctx, "create", str(e), e.status)
    ctx.out(f"{cid}\n")
    return 0


def cmd_start(ctx: Context, parsed: Parsed) -> int:
    client = ctx.client()
    if parsed.opts["attach"] or parsed.opts.get("interactive"):
        if len(parsed.args) > 1:
            ctx.err("berth: you cannot start and attach multiple containers at once\n")
            return 1
        info = client.get(f"/containers/{parsed.args[0]}/json")
        config = info.get("Config") or {}
        stdin = bool(parsed.opts.get("interactive")) and bool(config.get("OpenStdin"))
        tty = bool(config.get("Tty"))  # docker's start takes a pipe even for a tty (no CheckTty)
        return _attach_and_start(ctx, client, info["Id"], "next-exit", stdin=stdin, tty=tty,
                                 keys=parsed.opts.get("detach_keys") or "")
    failed = []
    for name in parsed.args:
        try:
            client.post(f"/containers/{name}/start")
        except DaemonError as e:
            ctx.err(f"Error response from daemon: {e.message}\n")
            failed.append(name)
            continue
        ctx.out(f"{name}\n")
    if failed:
        ctx.err(f"Error: failed to start containers: {', '.join(failed)}\n")
        return 1
    return 0
