"""The kernel's word that a log file changed: inotify, through libc (ctypes), read on
berthd's event loop. Followers sleep until the shim writes; nothing wakes them otherwise.

One inotify instance serves all of berthd's followers (`watch`), with one kernel watch
per log file shared by everyone following it. An instance per follower would be
simpler, but instances are a per-user resource (fs.inotify.max_user_instances, 128 by
default, shared by every root process on the host): the 128th `logs -f` would fail.
Watches are cheap (max_user_watches is in the tens of thousands). The instance is
closed when its last follower goes (off the loop: that close waits for a grace period),
so an idle berthd holds no inotify fd at all.

The stdlib has no inotify binding; three libc calls and a struct are all it takes,
so no third-party package is needed.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import struct
import weakref

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000

# Growth, and everything that may change what the path or the file is (not yet acted on
# beyond waking the follower, which then reads to EOF again).
_MASK = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name

_libc = ctypes.CDLL(None, use_errno=True)
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
_libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]


def _check(result: int, what: str) -> int:
    if result < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")
    return result


def _events(fd: int) -> list[tuple[int, int]]:
    """(wd, mask) of every event queued on the instance, until it would block."""
    out: list[tuple[int, int]] = []
    while True:
        try:
            buf = os.read(fd, 64 * 1024)
        except BlockingIOError:
            return out
        pos = 0
        while pos + _EVENT.size <= len(buf):
            wd, mask, _, name_len = _EVENT.unpack_from(buf, pos)
            out.append((wd, mask))
            pos += _EVENT.size + name_len


class Watch:
    """One follower's view of one file: `changed` is set whenever the kernel reported
    something about it since the follower last cleared it."""

    def __init__(self, watcher: _Watcher, wd: int) -> None:
        self._watcher = watcher
        self.wd: int | None = wd  # None once the kernel dropped the watch (file deleted)
        self.changed = asyncio.Event()

    def close(self) -> None:
        self._watcher.release(self)


class _Watcher:
    """The shared instance of one event loop, and who follows what on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._fd = -1
        self._by_wd: dict[int, set[Watch]] = {}

    def watch(self, fd: int) -> Watch:
        """Watches the file open as `fd` (through /proc, so it is that very inode even if
        the path was replaced since it was opened)."""
        if self._fd < 0:
            self._fd = _check(_libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC), "inotify_init1")
            self._loop.add_reader(self._fd, self._readable)
        try:
            wd = _check(_libc.inotify_add_watch(self._fd, f"/proc/self/fd/{fd}".encode(), _MASK),
                        "inotify_add_watch")
        except OSError:
            self._close_if_unused()
            raise
        w = Watch(self, wd)
        self._by_wd.setdefault(wd, set()).add(w)  # the same inode twice: the same wd
        return w

    def release(self, w: Watch) -> None:
        wd, w.wd = w.wd, None
        if wd is not None:
            followers = self._by_wd.get(wd, set())
            followers.discard(w)
            if not followers:
                self._by_wd.pop(wd, None)
                _libc.inotify_rm_watch(self._fd, wd)  # fails (EINVAL) only if already dropped
        self._close_if_unused()

    def _close_if_unused(self) -> None:
        if not self._by_wd and self._fd >= 0:
            self._loop.remove_reader(self._fd)
            # closing an instance waits for the kernel's SRCU grace period (fsnotify's
            # marks are freed under it): 10-20 ms that would stall the loop at the end
            # of every exec or attach, so a worker thread does it
            self._loop.run_in_executor(None, os.close, self._fd)
            self._fd = -1

    def _readable(self) -> None:
        for wd, mask in _events(self._fd):
            if mask & IN_Q_OVERFLOW:  # events were lost: everyone reads again
                woken = [w for ws in self._by_wd.values() for w in ws]
            else:
                woken = list(self._by_wd.get(wd, ()))
            if mask & IN_IGNORED:  # the file is gone: this wd will never report again
                for w in self._by_wd.pop(wd, ()):
                    w.wd = None
            for w in woken:
                w.changed.set()


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watcher] = weakref.WeakKeyDictionary()


def watch(fd: int) -> Watch:
    """A Watch on the open file `fd`, on the running loop's shared instance."""
    loop = asyncio.get_running_loop()
    watcher = _watchers.get(loop)
    if watcher is None:
        watcher = _watchers[loop] = _Watcher(loop)
    return watcher.watch(fd)
