"""Reading and writing cgroup control files, with runc's error wording.

Control files are tiny and the kernel acts on each write(2) as a whole, so every
write is one unbuffered os.write of the full value.
"""

from __future__ import annotations

import errno
import os

TYPE_CHECKING = False  # typing costs ~2 ms on the CLI's start
if TYPE_CHECKING:
    from typing import Any


class CgroupError(Exception):
    """A cgroup operation failed; str(e) is the one-line message runc would print."""


def go_strerror(code: int) -> str:
    """Go's errno text is strerror with a lower-case first letter ("device or resource busy")."""
    text = os.strerror(code)
    return text[:1].lower() + text[1:]


def write(dir_path: str, name: str, value: str) -> None:
    """Write `value` to dir_path/name; raise CgroupError worded as runc's cgroups.WriteFile."""
    path = os.path.join(dir_path, name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except OSError as e:
        raise _wrap(e, "open", path, value) from e
    try:
        os.write(fd, value.encode())
    except OSError as e:
        raise _wrap(e, "write", path, value) from e
    finally:
        os.close(fd)


def _wrap(e: OSError, op: str, path: str, value: str) -> CgroupError:
    err = CgroupError(f'failed to write "{value}": {op} {path}: {go_strerror(e.errno or 0)}')
    err.errno = e.errno  # type: ignore[attr-defined]
    return err


def read(dir_path: str, name: str) -> str:
    """The file's content without the trailing newline."""
    with open(os.path.join(dir_path, name)) as f:
        return f.read().rstrip("\n")


def read_or(dir_path: str, name: str, default: str = "") -> str:
    """read(), or `default` when the file does not exist (an absent controller or knob)."""
    try:
        return read(dir_path, name)
    except (FileNotFoundError, NotADirectoryError):
        return default
    except OSError as e:
        if e.errno in (errno.ENODEV, errno.EOPNOTSUPP):
            return default
        raise


def read_uint(dir_path: str, name: str, max_value: int = 0) -> int:
    """An integer file; "max" (v2's unlimited) reads as `max_value`, absent as 0."""
    text = read_or(dir_path, name).strip()
    if not text:
        return 0
    if text == "max":
        return max_value
    return int(text)


def read_keyed(dir_path: str, name: str) -> dict[str, int]:
    """A flat-keyed file ("key value" per line: memory.stat, cpu.stat, cgroup.events)."""
    out: dict[str, int] = {}
    for line in read_or(dir_path, name).splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def procs(dir_path: str) -> list[int]:
    """The pids listed in dir_path/cgroup.procs (empty if the cgroup is gone)."""
    return [int(p) for p in read_or(dir_path, "cgroup.procs").split()]


def all_procs(dir_path: str) -> list[int]:
    """cgroup.procs of dir_path and of every cgroup below it, as runc's GetAllPids."""
    pids: list[int] = []
    for current, _dirs, _files in os.walk(dir_path):
        pids.extend(procs(current))
    return pids


def signal_all(manager: Any, signal: int, freeze: bool = True) -> None:
    """Signal every process, frozen first so none can fork past us (runc's signalAllProcesses)."""
    if freeze:
        manager.freeze()
    try:
        for pid in manager.pids():
            try:
                os.kill(pid, signal)
            except ProcessLookupError:
                pass
    finally:
        if freeze:
            manager.thaw()


def remove_tree(dir_path: str) -> None:
    """rmdir a cgroup and its child cgroups, deepest first; tolerate one already gone.

    A cgroup directory holds only kernel files, which rmdir takes with it; a task that
    was just killed may keep it busy for a moment (EBUSY), hence the short retry.
    """
    import time

    if not os.path.isdir(dir_path):
        return
    for current, _dirs, _files in sorted(os.walk(dir_path), key=lambda w: -len(w[0])):
        delay = 0.001
        for attempt in range(12):
            try:
                os.rmdir(current)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno != errno.EBUSY or attempt == 11:
                    raise CgroupError(f"unable to remove cgroup {current}: {go_strerror(e.errno or 0)}") from e
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
