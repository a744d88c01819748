"""Directories opened inside a root that no path can leave: openat2(RESOLVE_IN_ROOT).

A layer is untrusted input. Its symlinks are resolved as the container will see
them (an absolute target, or `..` past the top, lands back inside the root, as in
a chroot), so nothing the layer names can reach the host's files, even through a
symlink that an earlier entry of the same layer planted. The last component of a
path is never followed: callers create or replace it relative to its parent.
"""

from __future__ import annotations

import ctypes
import errno
import os

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
# openat2 has the same number on every architecture that has it (new syscalls are unified)
_SYS_OPENAT2 = 437
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_IN_ROOT = 0x10


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2_in_root(root_fd: int, path: str, flags: int) -> int:
    """open(path) with `root_fd` as "/" for every component, symlinks included."""
    how = _OpenHow(flags | os.O_CLOEXEC, 0, _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS)
    fd = _libc.syscall(_SYS_OPENAT2, ctypes.c_int(root_fd), path.encode("utf-8", "surrogateescape"),
                       ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return fd


class ConfinedRoot:
    """The root of one unpack, and a cache of its directories opened O_PATH.

    The cache holds what the tar stream is filling now (entries come grouped by
    directory); anything that removes or replaces an entry clears it, so a stale fd
    can at worst point at a directory already unlinked, never outside the root.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self._dirs: dict[str, int] = {}

    def close(self) -> None:
        self.forget()
        os.close(self.fd)

    def forget(self) -> None:
        for fd in self._dirs.values():
            os.close(fd)
        self._dirs.clear()

    def dir(self, rel: str) -> int:
        """An O_PATH fd of directory `rel` (root-relative, no `..`), made (0755) if missing."""
        if not rel:
            return self.fd
        fd = self._dirs.get(rel)
        if fd is not None:
            return fd
        try:
            fd = openat2_in_root(self.fd, rel, os.O_PATH | os.O_DIRECTORY)
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise
            parent_rel, _, name = rel.rpartition("/")
            parent = self.dir(parent_rel)
            try:
                os.mkdir(name, 0o755, dir_fd=parent)
            except FileExistsError:
                pass  # a dangling symlink: openat2 below says what it is
            fd = openat2_in_root(self.fd, rel, os.O_PATH | os.O_DIRECTORY)
        if len(self._dirs) > 64:
            self.forget()
        self._dirs[rel] = fd
        return fd

    def open_dir(self, rel: str) -> int:
        """A readable fd of directory `rel` itself (not followed if it is a symlink), for
        fchmod/fchown/futimens/fsetxattr, which O_PATH fds refuse."""
        if not rel:
            return os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.fd)
        parent_rel, _, name = rel.rpartition("/")
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.dir(parent_rel))

    def proc_path(self, parent_fd: int, name: str) -> str:
        """A path naming `name` in `parent_fd` for calls without a dir_fd form (lsetxattr)."""
        return f"/proc/self/fd/{parent_fd}/{name}"
