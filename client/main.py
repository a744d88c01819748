"""`berth`: the command line entry point; reads global flags, finds the command, runs it.

It imports only the standard library and the one handler module a command
needs, because every `berth ps` pays for its own start-up.
"""

from __future__ import annotations

import os
import sys

from berth.client import flags
from berth.client.commands import group_help, lookup
from berth.common import VERSION as CLIENT_VERSION

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers take either)
if TYPE_CHECKING:
    from berth.client.api import Client


class Context:
    """What a command needs: the daemon's address and where to write."""

    def __init__(self, host: str) -> None:
        self.host = host

    def out(self, text: str) -> None:
        _write(sys.stdout, text)

    def err(self, text: str) -> None:
        _write(sys.stderr, text)

    def client(self) -> Client:
        from berth.client.api import Client

        return Client(self.host)


def _write(stream, text: str) -> None:
    stream.write(text)
    stream.flush()


def _global_flags(argv: list[str]) -> tuple[str | None, bool, bool, list[str], str | None]:
    """-H/--host, -v/--version and --help, which come before the command."""
    host: str | None = None
    version = help_ = False
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        if arg in ("-H", "--host"):
            if i + 1 >= len(argv):
                which = "--host" if arg == "--host" else "'H' in -H"
                return host, version, help_, [], f"flag needs an argument: {which}"
            host = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--host="):
            host = arg[len("--host="):]
        elif arg.startswith("-H") and len(arg) > 2:
            host = arg[2:].lstrip("=")
        elif arg in ("-v", "--version"):
            version = True
        elif arg in ("--help", "-h"):
            help_ = True
        elif arg == "--":
            i += 1
            break
        else:
            name = arg if arg.startswith("--") else f"'{arg[1]}' in {arg}"
            kind = "unknown flag: " if arg.startswith("--") else "unknown shorthand flag: "
            return host, version, help_, [], kind + name.split("=")[0]
        i += 1
    return host, version, help_, argv[i:], None


def _run_handler(handler: str, ctx: Context, parsed: flags.Parsed) -> int:
    module_name, _, func_name = handler.partition(":")
    module = __import__(f"berth.client.{module_name}", fromlist=[func_name])
    return getattr(module, func_name)(ctx, parsed)


def run(argv: list[str]) -> int:
    """Run one command line and return the exit status (also what tests call)."""
    host, version, help_, rest, error = _global_flags(argv)
    if error:
        sys.stderr.write(f"{error}\n\nUsage:  berth [OPTIONS] COMMAND\n\nRun 'berth --help' for more information\n")
        return 125
    if version:
        sys.stdout.write(f"berth version {CLIENT_VERSION}\n")
        return 0
    if help_ or not rest:
        sys.stdout.write(group_help(""))
        return 0
    from berth.client.api import host_from_env

    ctx = Context(host_from_env(host))
    if rest[0] == "__complete":  # hidden: bash completion asks it (client/complete.py)
        from berth.client.complete import cmd_complete

        return cmd_complete(ctx, rest[1:])
    spec, handler, used = lookup(rest)
    if spec is None:
        if handler and used == 1:
            sys.stdout.write(group_help(handler))
            return 0
        if handler and used == 2 and rest[1] in ("--help", "-h"):
            sys.stdout.write(group_help(handler))
            return 0
        words = " ".join(rest[:used])
        text = f"berth: unknown command: berth {words}\n\n"
        if handler:
            text += f"Usage:  berth {handler}\n\n"
        text += f"Run 'berth {handler + ' ' if handler else ''}--help' for more information\n"
        sys.stderr.write(text)
        return 1
    try:
        parsed = flags.parse(spec, rest[used:])
    except flags.UsageError as e:
        sys.stderr.write(flags.usage_error_text(spec, e))
        return e.status
    if parsed.help:
        sys.stdout.write(flags.help_text(spec))
        return 0
    return _dispatch(handler, ctx, parsed)


def _dispatch(handler: str, ctx: Context, parsed: flags.Parsed) -> int:
    from berth.client.api import ConnectError, DaemonError

    try:
        return _run_handler(handler, ctx, parsed)
    except DaemonError as e:
        ctx.err(f"Error response from daemon: {e.message}\n")
        return 1
    except ConnectError as e:
        ctx.err(f"{e}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def main() -> None:
    """The `berth` command: run it, put its output out, and leave at once.

    The interpreter's teardown (freeing every module and object) costs more than
    a `ps` request, and a one-shot command has nothing to clean up; so once our
    output is flushed (here, where a closed pipe can still be answered) os._exit
    ends the process. An uncaught exception still takes the usual way out.
    """
    try:
        status = run(sys.argv[1:])
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        status = 0
    os._exit(status)


if __name__ == "__main__":
    main()
