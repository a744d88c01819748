"""A small flag parser with the docker CLI's (cobra/pflag) grammar and wording.

argparse would do the parsing but not say what docker says ("unknown flag: --x",
"flag needs an argument: 'e' in -e", exit 125), and scripts and users match on
those words; so the few rules docker follows are written out here.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Plain classes rather than NamedTuple or dataclasses: importing typing or
# dataclasses costs more than parsing any command line, on every command.


class Flag:
    """One option: `kind` is "bool", "string", "int" or "list" (repeatable string)."""

    __slots__ = ("long", "short", "kind", "help", "default", "metavar")

    def __init__(self, long: str, short: str = "", kind: str = "bool", help: str = "",
                 default: Any = None, metavar: str = "") -> None:
        self.long = long
        self.short = short
        self.kind = kind
        self.help = help
        self.default = default
        self.metavar = metavar

    @property
    def dest(self) -> str:
        return self.long.replace("-", "_")


class Command:
    """A command's grammar: its usage line, flags and how many arguments it takes."""

    __slots__ = ("path", "usage", "summary", "flags", "min_args", "max_args", "interspersed", "aliases")

    def __init__(self, path: str, usage: str, summary: str, flags: tuple[Flag, ...] = (),
                 min_args: int = 0, max_args: int | None = None, interspersed: bool = True,
                 aliases: tuple[str, ...] = ()) -> None:
        self.path = path  # "run", "container run", "image ls"
        self.usage = usage  # "[OPTIONS] IMAGE [COMMAND] [ARG...]"
        self.summary = summary
        self.flags = flags
        self.min_args = min_args
        self.max_args = max_args  # None: no limit
        self.interspersed = interspersed  # False: flags end at the first argument (run, create)
        self.aliases = aliases


class UsageError(Exception):
    """Bad flags or arguments; `status` is the exit code docker uses for that mistake."""

    def __init__(self, message: str, status: int, hint: str = "Run") -> None:
        super().__init__(message)
        self.status = status
        self.hint = hint  # docker says "See" for argument counts, "Run" for flags


class Parsed:
    """Options by flag name (dashes as underscores), positional arguments, and --help."""

    def __init__(self) -> None:
        self.opts: dict[str, Any] = {}
        self.args: list[str] = []
        self.help = False


HELP = Flag("help", "", "bool", "Print usage")
_TYPED = ("bytes", "swap", "decimal", "ulimit", "duration")  # kinds whose values client/units.py converts


def _find(cmd: Command, long: str = "", short: str = "") -> Flag | None:
    for f in cmd.flags + (HELP,):
        if (long and f.long == long) or (short and f.short == short):
            return f
    return None


def _flag_name(f: Flag) -> str:
    return f"-{f.short}, --{f.long}" if f.short else f"--{f.long}"


def _set(parsed: Parsed, f: Flag, value: str | None) -> None:
    if f.kind == "bool":
        if value is None:
            parsed.opts[f.dest] = True
            return
        lowered = value.lower()
        if value in ("1", "t", "T", "true", "TRUE", "True") or lowered == "true":
            parsed.opts[f.dest] = True
        elif value in ("0", "f", "F", "false", "FALSE", "False") or lowered == "false":
            parsed.opts[f.dest] = False
        else:
            raise UsageError(f'invalid argument "{value}" for "{_flag_name(f)}" flag: '
                             f'strconv.ParseBool: parsing "{value}": invalid syntax', 125)
        return
    assert value is not None
    if f.kind == "int":
        try:
            parsed.opts[f.dest] = int(value, 10)
        except ValueError:
            raise UsageError(f'invalid argument "{value}" for "{_flag_name(f)}" flag: '
                             f'strconv.ParseInt: parsing "{value}": invalid syntax', 125) from None
    elif f.kind == "list":
        parsed.opts.setdefault(f.dest, []).append(value)
    elif f.kind in _TYPED:  # sizes, CPUs, ulimits: client/units.py, loaded when used
        from berth.client import units

        try:
            typed = units.convert(f.kind, value)
        except ValueError as e:
            raise UsageError(f'invalid argument "{value}" for "{_flag_name(f)}" flag: {e}', 125) from None
        if f.kind == "ulimit":
            parsed.opts.setdefault(f.dest, []).append(typed)
        else:
            parsed.opts[f.dest] = typed
    else:
        parsed.opts[f.dest] = value


def parse(cmd: Command, argv: list[str]) -> Parsed:
    """Split argv into options and arguments, raising UsageError with docker's words."""
    parsed = Parsed()
    for f in cmd.flags:
        parsed.opts[f.dest] = list(f.default or []) if f.kind in ("list", "ulimit") else f.default
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            parsed.args.extend(argv[i:])
            break
        if arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg[2:].partition("=")
            f = _find(cmd, long=name)
            if f is None:
                raise UsageError(f"unknown flag: --{name}", 125)
            if f.kind != "bool" and not eq:
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: --{name}", 125)
                value = argv[i]
                i += 1
            _set(parsed, f, value if (eq or f.kind != "bool") else None)
        elif arg.startswith("-") and len(arg) > 1:
            shorts = arg[1:]
            while shorts:
                c, shorts = shorts[0], shorts[1:]
                f = _find(cmd, short=c)
                if f is None:
                    raise UsageError(f"unknown shorthand flag: '{c}' in {arg}", 125)
                if f.kind == "bool":
                    if shorts.startswith("="):
                        _set(parsed, f, shorts[1:])
                        shorts = ""
                    else:
                        _set(parsed, f, None)
                    continue
                if shorts:
                    _set(parsed, f, shorts[1:] if shorts.startswith("=") else shorts)
                elif i < len(argv):
                    _set(parsed, f, argv[i])
                    i += 1
                else:
                    raise UsageError(f"flag needs an argument: '{c}' in -{c}", 125)
                shorts = ""
        else:
            parsed.args.append(arg)
            if not cmd.interspersed:
                parsed.args.extend(argv[i:])
                break
    parsed.help = bool(parsed.opts.pop("help", False))
    if parsed.help:
        return parsed
    _check_count(cmd, len(parsed.args))
    return parsed


def _check_count(cmd: Command, n: int) -> None:
    """cobra's positional-argument checks, message for message."""
    lo, hi = cmd.min_args, cmd.max_args
    if hi == 0 and n > 0:
        raise UsageError(f"'berth {cmd.path}' accepts no arguments", 1, "Run")
    if lo == hi and n != lo:
        plural = "argument" if lo == 1 else "arguments"
        raise UsageError(f"'berth {cmd.path}' requires {lo} {plural}", 1, "Run")
    if n < lo:
        plural = "argument" if lo == 1 else "arguments"
        raise UsageError(f"'berth {cmd.path}' requires at least {lo} {plural}", 1, "See")
    if hi is not None and n > hi:
        plural = "argument" if hi == 1 else "arguments"
        if lo:
            raise UsageError(f"'berth {cmd.path}' requires at least {lo} and at most {hi} {plural}", 1, "See")
        raise UsageError(f"'berth {cmd.path}' requires at most {hi} {plural}", 1, "Run")


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    return lines + [line] if line else lines or [""]


_METAVARS = {"int": "int", "string": "string", "bytes": "bytes", "swap": "bytes", "decimal": "decimal",
             "ulimit": "ulimit", "duration": "duration"}


def help_text(cmd: Command) -> str:
    """`berth CMD --help`, laid out as cobra lays out docker's."""
    out = [f"Usage:  berth {cmd.path} {cmd.usage}".rstrip(), "", cmd.summary]
    if cmd.aliases:
        out += ["", "Aliases:", "  " + ", ".join(f"berth {a}" for a in cmd.aliases)]
    if cmd.flags:
        heads = []
        for f in cmd.flags:
            head = f"  -{f.short}, --{f.long}" if f.short else f"      --{f.long}"
            if f.kind != "bool":
                head += " " + (f.metavar or _METAVARS.get(f.kind, "list"))
            heads.append(head)
        col = max(len(h) for h in heads) + 3
        out += ["", "Options:"]
        for head, f in zip(heads, cmd.flags, strict=True):
            text = f.help
            if f.default not in (None, False, [], ()) and f.kind != "list":
                shown = f'"{f.default}"' if f.kind == "string" else str(f.default)
                text += f" (default {shown})"
            lines = _wrap(text, max(30, 80 - col))
            out.append(head.ljust(col) + lines[0])
            out += [" " * col + rest for rest in lines[1:]]
    return "\n".join(out) + "\n"


def usage_error_text(cmd: Command, err: UsageError) -> str:
    """What docker prints on stderr for a bad command line."""
    message = str(err)
    if err.status == 1:
        message = "berth: " + message
    return (f"{message}\n\nUsage:  berth {cmd.path} {cmd.usage}".rstrip()
            + f"\n\n{err.hint} 'berth {cmd.path} --help' for more information\n")
