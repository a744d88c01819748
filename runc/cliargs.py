"""runc's command-line grammar (urfave/cli v1), without argparse.

argparse (with the shutil and gettext it pulls in, and the building of fifteen
sub-parsers) costs ~6 ms per call, a quarter of runc's whole `run`. The grammar is
small: global flags, a command, its flags, then positional arguments. A command's
flags may also follow its arguments (urfave moves them to the front, see reorder),
except for exec and ps, where flag parsing stops at the first positional (so
`exec ID sh -c x` keeps `-c`); `--` ends flags, `-flag`, `--flag`, `--flag=value`
are all accepted as urfave does.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

BOOL, VALUE, MULTI, INT = "bool", "value", "multi", "int"

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

_INT_FLAGS = ("blkio-weight", "pids-limit")  # cli.IntFlag in runc: a bad value is a usage error

# checkpoint and restore: runc's flags, so that their help answers; berth-runc has no CRIU
_CRIU: list[Flag] = [
    (("image-path",), "image_path", VALUE, "", "path for saving criu image files"),
    (("work-path",), "work_path", VALUE, "", "path for saving work files and logs"),
    (("tcp-established",), "tcp_established", BOOL, False, "allow open tcp connections"),
    (("ext-unix-sk",), "ext_unix_sk", BOOL, False, "allow external unix sockets"),
    (("shell-job",), "shell_job", BOOL, False, "allow shell jobs"),
    (("lazy-pages",), "lazy_pages", BOOL, False, "use userfaultfd to lazily restore memory pages"),
    (("file-locks",), "file_locks", BOOL, False, "handle file locks, for safety"),
    (("manage-cgroups-mode",), "manage_cgroups_mode", VALUE, "", "cgroups mode: 'soft' (default), 'full' and 'strict'"),
    (("empty-ns",), "empty_ns", MULTI, None, "create a namespace, but don't restore its properties"),
    (("auto-dedup",), "auto_dedup", BOOL, False, "enable auto deduplication of memory images"),
]
_CHECKPOINT: list[Flag] = _CRIU + [
    (("parent-path",), "parent_path", VALUE, "", "path for previous criu image files in pre-dump"),
    (("leave-running",), "leave_running", BOOL, False, "leave the process running after checkpointing"),
    (("status-fd",), "status_fd", VALUE, "-1", "criu writes \\0 to this FD once lazy-pages is ready"),
    (("page-server",), "page_server", VALUE, "", "ADDRESS:PORT of the page server"),
    (("pre-dump",), "pre_dump", BOOL, False, "dump container's memory information only, leave the container running"),
]
_RESTORE: list[Flag] = _CRIU + [
    (("console-socket",), "console_socket", VALUE, None, "path to an AF_UNIX socket which will receive the pty master"),
    (("bundle", "b"), "bundle", VALUE, "", "path to the root of the bundle directory"),
    (("detach", "d"), "detach", BOOL, False, "detach from the container's process"),
    (("pid-file",), "pid_file", VALUE, None, "specify the file to write the process id to"),
    (("no-subreaper",), "no_subreaper", BOOL, False, "disable the use of the subreaper used to reap reparented processes"),
    (("no-pivot",), "no_pivot", BOOL, False, "do not use pivot root to jail process inside rootfs"),
    (("lsm-profile",), "lsm_profile", VALUE, "", "Specify an LSM profile to be used during restore in the form of TYPE:NAME."),
    (("lsm-mount-context",), "lsm_mount_context", VALUE, "", "Specify an LSM mount context to be used during restore."),
]

# command -> (description, flags, positionals); a positional ending in "?" is optional, in "*" takes the rest
COMMANDS: dict[str, tuple[str, list[Flag], list[str]]] = {
    "checkpoint": ("checkpoint a running container (not supported by berth-runc)", _CHECKPOINT, ["id"]),
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
    "restore": ("restore a container from a previous checkpoint (not supported by berth-runc)", _RESTORE, ["id"]),
    "resume": ("resumes all processes that have been previously paused", [], ["id"]),
    "update": ("update container resource constraints", [
        (("resources", "r"), "resources", VALUE, "", "path to the file containing the resources to update or '-'")]
        + [((name,), name.replace("-", "_"), INT if name in _INT_FLAGS else VALUE, None, name)
           for name in _UPDATE_FLAGS], ["id"]),
    "events": ("display container events such as OOM notifications, cpu, memory, and IO usage statistics", [
        (("interval",), "interval", VALUE, "5s", "set the stats collection interval"),
        (("stats",), "stats", BOOL, False, "display the container's stats then exit")], ["id"]),
    "features": ("show the enabled features", [], []),
}


class UsageError(Exception):
    """Bad command line; `command` says whose help to print."""

    def __init__(self, message: str, command: str | None = None, flag: bool = False) -> None:
        super().__init__(message)
        self.command = command
        self.flag = flag  # a flag urfave could not parse (vs. runc's own argument count check)


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
            raise UsageError(f"flag provided but not defined: -{name}", command, flag=True)
        _, dest, kind, _, _ = flag
        if kind == BOOL:
            out[dest] = value.lower() not in ("false", "0") if eq else True
        else:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: -{name}", command, flag=True)
                value = argv[i]
            if kind == MULTI:
                out.setdefault(dest, []).append(value)
            elif kind == INT:
                out[dest] = _go_int(value, name, command)
            else:
                out[dest] = value
        i += 1
    return i


def _go_int(text: str, name: str, command: str | None) -> int:
    """Go's flag.Int: strconv.ParseInt(text, 0, 64), so 0x10, 0o17, 017 and 0b1 too."""
    body = text[1:] if text[:1] in ("+", "-") else text
    try:
        if len(body) > 1 and body[0] == "0" and body[1].isdigit():
            value = int(text, 8)  # Go's base 0 reads a leading 0 as octal
        else:
            value = int(text, 0)
    except ValueError:
        raise UsageError(f'invalid value "{text}" for flag -{name}: parse error', command, flag=True) from None
    if not -(1 << 63) <= value < (1 << 63):
        raise UsageError(f'invalid value "{text}" for flag -{name}: value out of range', command, flag=True)
    return value


def _defaults(flags: list[Flag]) -> dict[str, Any]:
    return {f[1]: ([] if f[2] == MULTI else f[3]) for f in flags}


# runc sets SkipArgReorder on these: what follows their id belongs to the process (or ps)
_KEEP_ORDER = ("exec", "ps")


def reorder(args: list[str], flags: list[Flag]) -> list[str]:
    """urfave/cli's reorderArgs (v1.22.9, Debian's runc): its flags to the front, each with the word after.

    So `update ID --cpu-period 900000` reads as `update --cpu-period 900000 ID`. Only
    the command's own flags move (an unknown one stays, and so counts as an argument);
    like urfave, it does not know which of them take a value: the word after a flag
    moves with it (`--memory -1` keeps its -1; after a boolean, `kill ID --all KILL`
    becomes `kill --all KILL ID`). A "--" ends the flags, the arguments before and
    after it stay in order.
    """
    known = {name for f in flags for name in f[0]}
    moved: list[str] = []
    rest: list[str] = []
    value_next = False
    for i, arg in enumerate(args):
        if value_next and not _is_flag(arg, known):
            value_next = False
            moved.append(arg)
        elif arg == "--":
            rest = ["--", *rest, *args[i + 1:]]
            break
        elif _is_flag(arg, known):
            moved.append(arg)
            value_next = "=" not in arg
        else:
            rest.append(arg)
    return moved + rest


def _is_flag(arg: str, known: set[str]) -> bool:
    """urfave's argIsFlag: "-x", "--x" or "--x=v" naming one of the command's flags."""
    if arg == "-" or not arg.startswith("-"):
        return False
    name = arg[2:] if arg.startswith("--") else arg
    if name.startswith("-"):
        name = name[1:]
    return name.split("=", 1)[0] in known


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
    flags = flags + [(("help", "h"), "help", BOOL, False, "")]
    if verb not in _KEEP_ORDER:
        argv = argv[: i + 1] + reorder(argv[i + 1:], flags)
    j = _parse_flags(argv, i + 1, flags, values, verb)
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
    """urfave's output: usage on stdout, then the error through the logger.

    A flag it cannot parse is "Incorrect Usage: ERR" (a global one "Incorrect Usage.
    ERR") and ERR alone in the log; runc's
    own count of arguments is "Incorrect Usage." and "PROG: ERR".
    """
    if err.flag:
        sep = ":" if err.command else "."  # urfave's App and Command say it differently
        sys.stdout.write(f"Incorrect Usage{sep} {err}\n\n" + help_text(err.command))
        log_error(str(err))
        return
    sys.stdout.write("Incorrect Usage.\n\n" + help_text(err.command))
    prog = sys.argv[0] if sys.argv and sys.argv[0] else "berth-runc"
    log_error(f"{prog}: {err}" if err.command else str(err))
