"""berth-runc: runc's command line over the berth.runc library.

Kept thin and lazy: each command imports only what it uses, so that the short
commands (state, kill, start) start in a few milliseconds of Python.
"""

from __future__ import annotations

import os
import sys

from berth.runc.errors import RuncError
from berth.runc.logfmt import Log

TYPE_CHECKING = False  # typing itself costs ~2 ms (and re, collections) before the first fork
if TYPE_CHECKING:
    from typing import Any, Callable

_LOG = Log()


def main(argv: list[str] | None = None) -> int:
    """The berth-runc program; as the program (argv None) it skips interpreter teardown."""
    if argv is None:
        import gc

        gc.disable()  # a short-lived process: collection passes only cost time
        code = _main(sys.argv[1:])
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # Python's finalization takes ~9 ms and has nothing to clean up here
    return _main(argv)


def _main(argv: list[str]) -> int:
    helper = 0
    if len(argv) > 2 and ("create" in argv or "run" in argv):
        from berth.runc.prewarm import prewarm_cgroup_migration

        helper = prewarm_cgroup_migration()  # overlaps a kernel wait with our imports
    try:
        return _main_verb(argv)
    finally:
        if helper:
            try:
                os.waitpid(helper, 0)
            except ChildProcessError:
                pass


def _main_verb(argv: list[str]) -> int:
    from berth.runc import cliargs

    try:
        args = cliargs.parse(argv)
    except cliargs.UsageError as e:
        cliargs.print_usage_error(e, _LOG.error)
        return 1
    _LOG.path, _LOG.fmt, _LOG.debugging = args.log or None, args.log_format, args.debug
    if args.debug:
        from berth.runc import debug

        debug.sink = _LOG.debug
    if args.log_format not in ("text", "json"):
        _LOG.fmt = "text"
        _LOG.error(f"invalid log-format: {args.log_format}")
        return 1
    if args.version:
        from berth.runc.version import version_text

        sys.stdout.write(version_text())
        return 0
    if args.help or not args.verb:
        sys.stdout.write(cliargs.help_text(args.verb))
        return 0
    try:
        return _COMMANDS[args.verb](args) or 0
    except Exception as e:  # noqa: BLE001 - one line on stderr, never a traceback
        if os.environ.get("BERTH_RUNC_DEBUG"):
            import traceback

            traceback.print_exc()
        from berth.runc import _one_line

        prefix = {"create": "runc create failed: ", "run": "runc run failed: ", "exec": "exec failed: "}
        _LOG.error(prefix.get(args.verb, "") + (str(e) if isinstance(e, RuncError) else _one_line(e)))
        return 255 if args.verb == "exec" else 1
    except KeyboardInterrupt:
        return 130


def _dump_indent(value: Any) -> str:
    import json

    return json.dumps(value, indent=2)


def _spec(args: Any) -> int:
    import json

    from berth.runc.defaults import default_spec

    path = os.path.join(args.bundle or ".", "config.json")
    if os.path.exists(path):
        raise RuncError("File config.json exists. Remove it first.")
    with open(path, "w") as f:
        f.write(json.dumps(default_spec(args.rootless), indent="\t"))
    return 0


def _bundle(args: Any) -> str:
    return args.bundle or os.getcwd()


def _warn_caps(bundle: str) -> None:
    """runc warns, and goes on, about capabilities this kernel does not know."""
    from berth.runc.config import load_bundle
    from berth.runc.process import unknown_caps

    try:
        unknown = unknown_caps(load_bundle(bundle)[1]["process"])
    except RuncError:
        return  # create reports it
    if unknown:
        _LOG.warning(f"ignoring unknown or unavailable capabilities: [{' '.join(unknown)}]")


def _create(args: Any) -> int:
    from berth.runc.launch import create

    _warn_caps(_bundle(args))
    create(args.root, args.id, _bundle(args), args.console_socket, args.pid_file, args.no_pivot,
           preserve_fds=_int_flag("preserve-fds", args.preserve_fds))
    return 0


def _run(args: Any) -> int:
    from berth.runc.launch import run

    _warn_caps(_bundle(args))
    return run(args.root, args.id, _bundle(args), args.console_socket, args.pid_file, args.no_pivot, args.detach,
               keep=args.keep, preserve_fds=_int_flag("preserve-fds", args.preserve_fds))


def _int_flag(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise RuncError(f'invalid value "{value}" for flag -{name}: parse error') from None


def _start(args: Any) -> int:
    from berth.runc.lifecycle import start

    start(args.root, args.id)
    return 0


def _state(args: Any) -> int:
    from berth.runc.lifecycle import state

    sys.stdout.write(_dump_indent(state(args.root, args.id)))
    return 0


def _kill(args: Any) -> int:
    from berth.runc.lifecycle import kill

    kill(args.root, args.id, args.signal or "SIGTERM", all=args.all)
    return 0


def _delete(args: Any) -> int:
    from berth.runc.lifecycle import delete

    try:
        delete(args.root, args.id, force=args.force)
    except RuncError as e:
        if not (args.force and str(e) == "container does not exist"):
            raise  # runc's delete --force of an unknown id succeeds quietly
    return 0


def _list(args: Any) -> int:
    import json

    from berth.runc.lifecycle import list_containers

    items = list_containers(args.root)
    if args.quiet:
        sys.stdout.write("".join(s["id"] + "\n" for s in items))
    elif args.format == "json":
        sys.stdout.write(json.dumps(items or None, separators=(",", ":")) + "\n")
    else:
        rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
        rows += [[s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"]] for s in items]
        sys.stdout.write(_table(rows))
    return 0


def _table(rows: list[list[str]]) -> str:
    """Go's tabwriter with minwidth 12, padding 3, as runc's list uses."""
    widths = [max(12, max(len(r[i]) for r in rows) + 3) for i in range(len(rows[0]) - 1)]
    return "".join("".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + r[-1] + "\n" for r in rows)


def _ps(args: Any) -> int:
    import json

    from berth.runc.lifecycle import ps

    pids = ps(args.root, args.id)
    if args.format == "json":
        sys.stdout.write(json.dumps(pids or None) + "\n")  # Go's nil slice: null
        return 0
    import subprocess

    ps_args = [a for a in args.ps_args if a != "--"] or ["-ef"]
    out = subprocess.run(["ps", *ps_args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuncError(f"exit status {out.returncode}: {out.stderr.strip()}")
    lines = out.stdout.splitlines()
    if not lines:
        return 0
    header = lines[0].split()
    if "PID" not in header:
        raise RuncError("couldn't find PID field in ps output")
    col = header.index("PID")
    keep = set(pids)
    sys.stdout.write(lines[0] + "\n")
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in keep:
            sys.stdout.write(line + "\n")
    return 0


def _exec(args: Any) -> int:
    from berth.runc.execproc import exec_cli

    return exec_cli(args)


def _pause(args: Any) -> int:
    from berth.runc.lifecycle import pause

    pause(args.root, args.id)
    return 0


def _resume(args: Any) -> int:
    from berth.runc.lifecycle import resume

    resume(args.root, args.id)
    return 0


def _update(args: Any) -> int:
    from berth.runc.lifecycle import update
    from berth.runc.resources import from_flags

    from berth.runc import record as st

    st.load(args.root, args.id)  # as runc: an unknown container before a bad value
    resources = from_flags(args)
    memory = resources.get("memory") or {}
    if memory.get("kernel") or memory.get("kernelTCP"):
        _LOG.warning("Kernel memory settings are ignored and will be removed")
    update(args.root, args.id, resources, warn=_LOG.warning)
    return 0


def _events(args: Any) -> int:
    import json
    import time

    from berth.runc.lifecycle import stats

    interval = _duration(args.interval)
    while True:
        data = stats(args.root, args.id)
        sys.stdout.write(json.dumps({"type": "stats", "id": args.id, "data": data}, separators=(",", ":")) + "\n")
        sys.stdout.flush()
        if args.stats:
            return 0
        time.sleep(interval)


def _duration(text: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


def _checkpoint(args: Any) -> int:
    from berth.runc import record as st

    st.load(args.root, args.id)  # as runc: an unknown container first
    raise RuncError("checkpoint is not supported by berth-runc (it has no CRIU support)")


def _restore(args: Any) -> int:
    raise RuncError("restore is not supported by berth-runc (it has no CRIU support)")


def _features(args: Any) -> int:
    import json

    from berth.runc.defaults import features

    sys.stdout.write(json.dumps(features(), indent=4) + "\n")
    return 0


_COMMANDS: dict[str, Callable[[Any], int]] = {
    "spec": _spec, "create": _create, "run": _run, "start": _start, "state": _state, "kill": _kill,
    "delete": _delete, "list": _list, "ps": _ps, "exec": _exec, "pause": _pause, "resume": _resume,
    "update": _update, "events": _events, "features": _features, "checkpoint": _checkpoint, "restore": _restore,
}

if __name__ == "__main__":
    sys.exit(main())
