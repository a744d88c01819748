"""`docker top`: the host's ps, run with the client's ps_args, keeping the lines of the
container's processes. Steps, statuses and wording are dockerd's (daemon/top_unix.go):
its failures are 500s that name the step ("ps: ...", "Couldn't find PID field ...")."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from ..http.errors import ApiError

DEFAULT_ARGS = "-ef"
# Another column renamed to PID would make ps's output lie about which lines are ours.
_RENAMED_PID = re.compile(r"\s+(\S*)=\s*(PID\S*)")
_ASCII_SPACE = re.compile(r"[\t\n\f\r ]+")  # Go's fieldsASCII: not Unicode spaces
_PID = re.compile(r"[+-]?[0-9]+")


@dataclass
class ProcessList:
    titles: list[str]
    processes: list[list[str]] = field(default_factory=list)


def validate(ps_args: str) -> None:
    """Refused before the container is even looked up, as dockerd does."""
    for key, value in _RENAMED_PID.findall(ps_args):
        if key != "pid":
            raise ApiError(500, f'specifying "{key}={value}" is not allowed')


def _fields(line: str) -> list[str]:
    return [f for f in _ASCII_SPACE.split(line) if f]


def parse(output: str, pids: set[int]) -> ProcessList:
    """The header's titles, and the lines whose PID is one of `pids` (with the thread
    lines, PID "-", that follow one of them: ps's `m` option); the last column takes
    the rest of the line, spaces and all."""
    lines = output.split("\n")
    result = ProcessList(titles=_fields(lines[0]))
    if "PID" not in result.titles:
        raise ApiError(500, "Couldn't find PID field in ps output")
    pid_col, last = result.titles.index("PID"), len(result.titles) - 1

    def keep(fields: list[str]) -> None:
        result.processes.append([*fields[:last], " ".join(fields[last:])])

    previous_was_ours = False
    for line in lines[1:]:
        fields = _fields(line)
        if not fields:
            continue
        value = fields[pid_col] if pid_col < len(fields) else ""
        if value == "-":
            if previous_was_ours:
                keep(fields)
            continue
        if not _PID.fullmatch(value):
            raise ApiError(500, f"Unexpected pid '{value}': strconv.Atoi: parsing \"{value}\": invalid syntax")
        previous_was_ours = int(value) in pids
        if previous_was_ours:
            keep(fields)
    return result


async def _ps(args: list[str]) -> tuple[int, bytes, bytes]:
    try:
        proc = await asyncio.create_subprocess_exec("ps", *args, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
    except FileNotFoundError:
        raise ApiError(500, 'ps: exec: "ps": executable file not found in $PATH') from None
    out, err = await proc.communicate()
    return proc.returncode or 0, out, err


async def top(ps_args: str, pids: list[int]) -> ProcessList:
    """ps_args split at each single space, as dockerd splits them. ps is asked for the
    container's pids only (-q); options that cannot go with -q (f, -C) get all of ps's
    lines, filtered here."""
    args = (ps_args or DEFAULT_ARGS).split(" ")
    code, out, err = await _ps([*args, "-q" + ",".join(str(p) for p in pids)])
    if code != 0:
        code, out, err = await _ps(args)
        if code != 0:
            first = err.decode(errors="replace").split("\n", 1)[0]
            raise ApiError(500, f"ps: {first or f'exit status {code}'}")
    return parse(out.decode(errors="replace"), set(pids))
