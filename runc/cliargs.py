"""runc's command-line grammar (urfave/cli v1), without argparse.

argparse (with the shutil and gettext it pulls in, and the building of fifteen
sub-parsers) costs ~6 ms per call, a quarter of runc's whole `run`. The grammar is
small: global flags, a command, its flags, then positional arguments; flag parsing
stops at the first positional (so `exec ID sh -c x` keeps `-c`), `--` ends flags,
`-flag`, `--flag`, `--flag=value` are all accepted as urfave does.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

BOOL, VALUE, MULTI = "bool", "value", "multi"

# (names, dest, kind, default, help)
Flag = tuple[tuple[str, ...], str, str, object, str]

GLOBAL: list[Flag] = [
    (("debug",), "debug", BOOL, False, "enable debug logging"),
    (("log",), "log", VALUE, "", "set the log file to write runc logs to (default is '/dev/stderr')"),
    (("log-format",), "log_format", VALUE, "text", "set the log format ('text' (default), or 'json')"),
    (("root",), "root", VALUE, "/run/berth-runc", "root directory for storage of container state"),
    (("criu",), "criu", VALUE, "criu", "path to the criu binary (unused)"),
    (("systemd-cgroup",), "systemd_cgroup", BOOL, False, "use systemd for cgroups (unsupported)"),
    (("rootless",), "rootless", VALUE, "auto", "ignore cgroup permission errors ('true', 'false', or 'auto')"),
    (("help", "h"), "help", BOOL, False, "show help"),
    (("version", "v"), "version", BOOL, False, "print the version"),
]

_CREATE: list[Flag] = [
    (("bundle", "b"), "bundle", VALUE, "", "path to the root of the bundle directory, defaults to the current directory"),
    (("console-socket",), "console_socket", VALUE, None, "path to an AF_UNIX socket which will receive the pty master"),
    (("pid-file",), "pid_file", VALUE, None, "specify the file to write the process id to"),
    (("no-pivot",), "no_pivot", BOOL, False, "do not use pivot root to jail process inside rootfs"),
    (("no-new-keyring",), "no_new_keyring", BOOL, False, "do not create a new session keyring for the container"),
    (("preserve-fds",), "preserve_fds", VALUE, "0", "pass N additional file descriptors to the container"),
]

_UPDATE_FLAGS = ["blkio-weight", "cpu-period", "cpu-quota", "cpu-share", "cpu-rt-period", "cpu-rt-runtime",
                 "cpuset-cpus", "cpuset-mems", "memory", "memory-reservation", "memory-swap", "pids-limit",
                 "kernel-memory", "kernel-memory-tcp", "l3-cache-schema", "mem-bw-schema"]

# command -> (description, flags, positionals); a positional ending in "?" is optional, in "*" takes the rest
COMMANDS: dict[str, tuple[str, list[Flag], list[str]]] = {
    "spec": ("create a new specification file", [
        (("bundle", "b"), "bundle", VALUE, "", "path to the root of the bundle directory"),
        (("rootless",), "rootless", BOOL, False, "generate a configuration for a rootless container")], []),
    "create": ("create a container", _CREATE, ["id"]),
    "run": ("create and run a container", _CREATE + [
        (("detach", "d"), "detach", BOOL, False, "detach from the container's process"),
        (("keep",), "keep", BOOL, False, "do not delete the container after it exits")], ["id"]),
    "start": ("executes the user defined process in a created container", [], ["id"]),
    "state": ("output the state of a container", [], ["id"]),
    "kill": ("kill sends the specified signal (default: SIGTERM) to the container's init process", [
        (("all", "a"), "all", BOOL, False, "send the specified signal to all processes inside the container")],
        ["id", "signal?"]),
    "delete": ("delete any resources held by the container often used with detached container", [
        (("force", "f"), "force", BOOL, False, "Forcibly deletes the container if it is still running (uses SIGKILL)")],
        ["id"]),
    "list": ("lists containers started by runc with the given root", [
        (("format", "f"), "format", VALUE, "table", "select one of: table or json (default: \"table\")"),
        (("quiet", "q"), "quiet", BOOL, False, "display only container IDs")], []),
    "ps": ("ps displays the processes running inside a container", [
        (("format", "f"), "format", VALUE, "table", "select one of: table or json (default: \"table\")")],
        ["id", "ps_args*"]),
    "exec": ("execute new process inside the container", [
        (("console-socket",), "console_socket", VALUE, None, "path to an AF_UNIX socket for the pty master"),
        (("cwd",), "cwd", VALUE, "", "current working directory in the container"),
        (("env", "e"), "env", MULTI, None, "set environment variables"),
        (("tty", "t"), "tty", BOOL, False, "allocate a pseudo-TTY"),
        (("user", "u"), "user", VALUE, "", "UID (format: <uid>[:<gid>])"),
        (("additional-gids", "g"), "additional_gids", MULTI, None, "additional gids"),
        (("process", "p"), "process", VALUE, "", "path to the process.json"),
        (("detach", "d"), "detach", BOOL, False, "detach from the container's process"),
        (("pid-file",), "pid_file", VALUE, None, "specify the file to write the process id to"),
        (("process-label",), "process_label", VALUE, "", "set the asm process label"),
        (("apparmor",), "apparmor", VALUE, "", "set the apparmor profile for the process"),
        (("no-new-privs",), "no_new_privs", BOOL, False, "set the no new privileges value for the process"),
        (("cap", "c"), "cap", MULTI, None, "add a capability to the bounding set for the process"),
        (("preserve-fds",), "preserve_fds", VALUE, "0", "pass N additional file descriptors to the container"),
        (("cgroup",), "cgroup", MULTI, None, "run the process in an (existing) sub-cgroup(s)"),
        (("ignore-paused",), "ignore_paused", BOOL, False, "allow exec in a paused container")],
        ["id", "command*"]),
    "pause": ("pause suspends all processes inside the container", [], ["id"]),
    "resume": ("resumes all processes that have been previously paused", [], ["id"]),
    "update": ("update container resource constraints", [
        (("resources", "r"), "resources", VALUE, "", "path to the file containing the resources to update or '-'")]
        + [((name,), name.replace("-", "_"), VALUE, None, name) for name in _UPDATE_FLAGS], ["id"]),
    "events": ("display container events such as OOM notifications, cpu, memory, and IO usage statistics", [
        (("interval",), "interval", VALUE, "5s", "set the stats collection interval"),
        (("stats",), "stats", BOOL, False, "display the container's stats then exit")], ["id"]),
    "features": ("show the enabled features", [], []),
}


class UsageError(Exception):
    """Bad command line; `command` says whose help to print."""

    def __init__(self, message: str, command: str | None = None) -> None:
        super().__init__(message)
        self.command = command


class Args:
    """Parsed flags and positionals as attributes (like argparse's Namespace)."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def _parse_flags(argv: list[str], i: int, flags: list[Flag], out: dict[str, Any],
                 command: str | None) -> int:
    """Consume flags from argv[i:]; return the index of the first non-flag argument."""
    index = {name: f for f in flags for name in f[0]}
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return i + 1
        if not arg.startswith("-") or arg == "-":
            return i
        name, eq, value = arg.lstrip("-").partition("=")
        flag = index.get(name)
        if flag is None:
            raise UsageError(f"flag provided but not defined: -{name}", command)
        _, dest, kind, _, _ = flag
        if kind == BOOL:
            out[dest] = value.lower() not in ("false", "0") if eq else True
        else:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: -{name}", command)
                value = argv[i]
            if kind == MULTI:
                out.setdefault(dest, []).append(value)
            else:
                out[dest] = value
        i += 1
    return i


def _defaults(flags: list[Flag]) -> dict[str, Any]:
    return {f[1]: ([] if f[2] == MULTI else f[3]) for f in flags}


def parse(argv: list[str]) -> Args:
    values = _defaults(GLOBAL)
    i = _parse_flags(argv, 0, GLOBAL, values, None)
    values["verb"] = argv[i] if i < len(argv) else None
    verb = values["verb"]
    if verb is None or values["help"] or values["version"]:
        return Args(**values)
    if verb in ("help", "h"):
        values["help"] = True
        values["verb"] = argv[i + 1] if i + 1 < len(argv) else None
        return Args(**values)
    if verb not in COMMANDS:
        raise UsageError(f"No help topic for '{verb}'")
    _, flags, positionals = COMMANDS[verb]
    values.update(_defaults(flags))
    j = _parse_flags(argv, i + 1, flags + [(("help", "h"), "help", BOOL, False, "")], values, verb)
    if values["help"]:
        return Args(**values)
    rest = argv[j:]
    required = [p for p in positionals if not p.endswith(("?", "*"))]
    if len(rest) < len(required) or (not any(p.endswith("*") for p in positionals) and len(rest) > len(positionals)):
        at_least = len(positionals) != len(required)
        n = len(required)
        raise UsageError(f'"{verb}" requires {"a minimum of" if at_least else "exactly"} {n} argument(s)', verb)
    for p in positionals:
        name = p.rstrip("?*")
        if p.endswith("*"):
            values[name] = rest
            rest = []
        elif p.endswith("?"):
            values[name] = rest.pop(0) if rest else None
        else:
            values[name] = rest.pop(0)
    return Args(**values)


def help_text(command: str | None) -> str:
    if command is None or command not in COMMANDS:
        lines = ["NAME:", "   berth-runc - Open Container Initiative runtime (berth)", "",
                 "USAGE:", "   berth-runc [global options] command [command options] [arguments...]", "",
                 "COMMANDS:"]
        lines += [f"   {name:<10}  {desc}" for name, (desc, _, _) in COMMANDS.items()]
        lines += ["", "GLOBAL OPTIONS:"] + _flag_lines(GLOBAL)
        return "\n".join(lines) + "\n"
    desc, flags, positionals = COMMANDS[command]
    args = " ".join(f"<{p.rstrip('?*').replace('_', '-')}>" for p in positionals)
    lines = ["NAME:", f"   berth-runc {command} - {desc}", "", "USAGE:",
             f"   berth-runc {command} [command options] {args}".rstrip()]
    if flags:
        lines += ["", "OPTIONS:"] + _flag_lines(flags)
    return "\n".join(lines) + "\n"


def _flag_lines(flags: list[Flag]) -> list[str]:
    out = []
    for names, _, kind, _, text in flags:
        spelled = ", ".join(("--" if len(n) > 1 else "-") + n + (" value" if kind != BOOL and n == names[-1] else "")
                            for n in names)
        out.append(f"   {spelled:<28}  {text}")
    return out


def print_usage_error(err: UsageError, log_error: Any) -> None:
    """urfave's output: usage on stdout, then the error through the logger."""
    sys.stdout.write("Incorrect Usage.\n\n" + help_text(err.command))
    prog = sys.argv[0] if sys.argv and sys.argv[0] else "berth-runc"
    log_error(f"{prog}: {err}" if err.command else str(err))
