"""Reading the json-file log the shim writes, as docker's logs and attach streams."""

from __future__ import annotations

import asyncio
import json
import os
import struct
from dataclasses import dataclass
from typing import AsyncIterator, BinaryIO, Callable

from berth.common.timefmt import parse_rfc3339_nano

from . import inotify

STREAM_IDS = {"stdin": 0, "stdout": 1, "stderr": 2}
MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


@dataclass
class LogOptions:
    stdout: bool = True
    stderr: bool = True
    timestamps: bool = False
    tail: int | None = None  # None: all
    since_ns: int = 0
    until_ns: int = 0  # 0: no limit
    follow: bool = False
    tty: bool = False


def frame(stream: str, data: bytes, tty: bool) -> bytes:
    """docker's stdcopy header: stream id, 3 zero bytes, big-endian length."""
    if tty:
        return data
    return struct.pack(">BxxxI", STREAM_IDS.get(stream, 1), len(data)) + data


def parse_time(value: str) -> int:
    """since/until: unix seconds with optional fraction, or RFC 3339."""
    if not value:
        return 0
    try:
        secs, _, frac = value.partition(".")
        return int(secs) * 1_000_000_000 + int((frac + "000000000")[:9])
    except ValueError:
        return parse_rfc3339_nano(value)


def _entry(line: bytes, opts: LogOptions) -> bytes | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    stream = rec.get("stream", "stdout")
    if (stream == "stdout" and not opts.stdout) or (stream == "stderr" and not opts.stderr):
        return None
    ts = rec.get("time", "")
    if opts.since_ns or opts.until_ns:
        try:
            t = parse_rfc3339_nano(ts)
        except ValueError:
            t = 0
        if t < opts.since_ns or (opts.until_ns and t > opts.until_ns):
            return None
    data = rec.get("log", "").encode()
    if opts.timestamps:
        data = ts.encode() + b" " + data
    return frame(stream, data, opts.tty)


def open_log(path: str) -> BinaryIO | None:
    """Opened before streaming starts: a --rm container's directory may be gone by the
    time its last lines are read, and an open file outlives the unlink."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None


def open_rotated(path: str, max_file: int) -> list[BinaryIO]:
    """The files a rotated log is in now, oldest first, the current one last (the shim
    rotates <log> to <log>.1 ... <log>.N-1: daemon/logs/drivers.py). Opened at once, so a
    rotation while they are read loses nothing."""
    files = []
    for i in range(max_file - 1, 0, -1):
        f = open_log(f"{path}.{i}")
        if f is not None:
            files.append(f)
    current = open_log(path)
    return files + [current] if current is not None else files


def _tail(files: list[BinaryIO], n: int) -> tuple[list[bytes], int]:
    """The last n complete lines (of the files, oldest first) and the offset just after them
    in the last file."""
    lines: list[bytes] = []
    end = 0
    for f in files:
        f.seek(0)
        data = f.read()
        end = data.rfind(b"\n") + 1
        lines = (lines + data[:end].splitlines())[-n:] if n > 0 else []
    return lines, end


def _rotated(f: BinaryIO, path: str) -> BinaryIO | None:
    """The new file at `path` if the one being followed was rotated away, else None; a file
    emptied in place (max-file 1) is read again from its start."""
    try:
        if os.stat(path).st_ino != os.fstat(f.fileno()).st_ino:
            return open_log(path)
    except FileNotFoundError:
        return None
    if os.fstat(f.fileno()).st_size < f.tell():
        f.seek(0)
    return None


async def _wake_at(exited: asyncio.Event, watch: inotify.Watch) -> None:
    await exited.wait()
    watch.changed.set()


async def stream(f: BinaryIO | None, opts: LogOptions, running: Callable[[], bool], *,
                 exited: asyncio.Event, from_end: bool = False, older: list[BinaryIO] | None = None,
                 path: str = "") -> AsyncIterator[bytes]:
    """Frames for what is in the log, then (follow) for what arrives until the container
    stops; a partial last line waits for its newline.

    Following sleeps until the kernel says the file changed or `exited` (the container's
    next exit, taken before this stream began) is set: no timer, no wakeup while the
    container is quiet. Each wakeup reads to EOF. The watch exists before the first read,
    so a write after any read wakes the loop; and `running` is looked at before each
    read, so once it said no, that read got everything the container wrote.

    `older`: the rotated files before `f`, oldest first, read before it; `path`: where the
    current file is, so that a follower moves on to the new one when the shim rotates
    (the watch wakes on the rename) or starts over when it empties the file.
    """
    older = older or []
    if f is None:
        for o in older:
            o.close()
        return
    watch: inotify.Watch | None = None
    relay: asyncio.Task | None = None
    try:
        if opts.follow:
            watch = inotify.watch(f.fileno())
            relay = asyncio.get_running_loop().create_task(_wake_at(exited, watch))
        if from_end:
            f.seek(0, os.SEEK_END)
        elif opts.tail is not None:
            lines, offset = _tail([*older, f], opts.tail)
            f.seek(offset)
            for line in lines:
                out = _entry(line, opts)
                if out:
                    yield out
        else:
            for o in older:
                for line in o.read().splitlines():
                    out = _entry(line, opts)
                    if out:
                        yield out
        pending = b""
        while True:
            was_running = not exited.is_set() and running()  # ends at that exit, as docker's follow
            if watch is not None:
                watch.changed.clear()
            pending += f.read()
            *lines, pending = pending.split(b"\n")
            for line in lines:
                out = _entry(line, opts)
                if out:
                    yield out
            if watch is None:
                return
            new = _rotated(f, path) if path else None
            if new is None and not was_running:
                return
            if new is not None:
                pending += f.read()  # the old file's last lines, then the new file's
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    out = _entry(line, opts)
                    if out:
                        yield out
                f.close()
                f, pending = new, b""
                watch.close()
                watch = inotify.watch(f.fileno())
                relay.cancel()
                relay = asyncio.get_running_loop().create_task(_wake_at(exited, watch))
                continue
            await watch.changed.wait()
    finally:
        if relay is not None:
            relay.cancel()
        if watch is not None:
            watch.close()
        f.close()
        for o in older:
            o.close()
