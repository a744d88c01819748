"""The container's filesystem as docker cp sees it: its root with its volumes, binds and
/etc files bound where the container has them (dockerd's openContainerFS), tmpfs not.

The binds are made in a mount namespace of their own, unshared by a short-lived thread
(a namespace is per thread: nothing else of berth-containerd sees them, and / is made a
slave first so that nothing propagates back to the host). What is kept is an O_PATH fd
of the view's root and one of the namespace, which holds its mounts alive; closing both
dissolves the namespace and its binds with it, so nothing is left to unmount. Lookups
through the root fd cross into the binds from any thread, still with RESOLVE_IN_ROOT:
a symlink in a volume resolves in the container's root, as it does in the container.
Each destination is resolved inside the view (the binds before it already made) and
bound by its fd, so no symlink the container planted moves a bind outside the root.
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading
from dataclasses import dataclass

from ..diff.confined import openat2_in_root
from ..errors import Internal

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.syscall.restype = ctypes.c_long
_CLONE_NEWNS = 0x00020000
_MS_BIND, _MS_REC, _MS_SLAVE = 0x1000, 0x4000, 0x80000
_SYS_MOUNT_SETATTR = 442  # unified number, as openat2's
_AT_EMPTY_PATH, _AT_RECURSIVE = 0x1000, 0x8000
_MOUNT_ATTR_RDONLY = 0x1


@dataclass
class Bind:
    destination: str
    source: str  # a host path
    readonly: bool = False
    recursive: bool = True


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mkdirs(root: int, rel: str) -> None:
    """mkdir -p of `rel` inside the root, each level resolved in it (moby's createIfNotExists)."""
    done = "."
    for part in rel.split("/"):
        fd = openat2_in_root(root, done, os.O_PATH | os.O_DIRECTORY)
        try:
            os.mkdir(part, 0o755, dir_fd=fd)
        except FileExistsError:
            pass
        finally:
            os.close(fd)
        done = part if done == "." else f"{done}/{part}"


def _target(root: int, rel: str, is_dir: bool) -> int:
    """An O_PATH fd of the destination, made first when the rootfs lacks it (a container
    created and never started: the runtime makes mount points at start)."""
    try:
        return openat2_in_root(root, rel, os.O_PATH)
    except FileNotFoundError:
        pass
    parent, _, name = rel.rpartition("/")
    if is_dir:
        _mkdirs(root, rel)
    else:
        if parent:
            _mkdirs(root, parent)
        pfd = openat2_in_root(root, parent or ".", os.O_PATH | os.O_DIRECTORY)
        try:
            os.close(os.open(name, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o755, dir_fd=pfd))
        finally:
            os.close(pfd)
    return openat2_in_root(root, rel, os.O_PATH)


def _bind(root: int, b: Bind) -> None:
    rel = os.path.normpath("/" + b.destination).strip("/")
    if not rel:
        return  # a bind over / is no container's: dockerd refuses it at create
    src = os.open(b.source, os.O_PATH | os.O_CLOEXEC)
    try:
        is_dir = os.path.isdir(f"/proc/self/fd/{src}")
        dst = _target(root, rel, is_dir)
        try:
            flags = _MS_BIND | (_MS_REC if b.recursive else 0)
            _check(_libc.mount(f"/proc/self/fd/{src}".encode(), f"/proc/self/fd/{dst}".encode(), None, flags, None),
                   f"bind {b.source} at {b.destination}")
        finally:
            os.close(dst)
    finally:
        os.close(src)
    if b.readonly:
        top = openat2_in_root(root, rel, os.O_PATH)  # the new mount's root
        try:
            attr = _MountAttr(_MOUNT_ATTR_RDONLY, 0, 0, 0)
            _check(_libc.syscall(_SYS_MOUNT_SETATTR, ctypes.c_int(top), b"", ctypes.c_uint(_AT_EMPTY_PATH | _AT_RECURSIVE),
                                 ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr))), f"read-only {b.destination}")
        finally:
            os.close(top)


def _depth(b: Bind) -> int:
    return len(os.path.normpath(b.destination).split("/"))


@dataclass
class View:
    root: int  # O_PATH fd of the view's root directory
    ns: int  # the namespace's fd, -1 when there is none (no binds)

    def close(self) -> None:
        os.close(self.root)
        if self.ns >= 0:
            os.close(self.ns)


def open_view(root_path: str, binds: list[Bind]) -> View:
    """The view of the root at `root_path` (a path of berth-containerd's namespace) with
    `binds` made on it; without binds, the root itself."""
    if not binds:
        return View(os.open(root_path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC), -1)
    out: list[View | BaseException] = []

    def build() -> None:
        root = ns = -1
        try:
            _check(_libc.unshare(_CLONE_NEWNS), "unshare")
            _check(_libc.mount(b"none", b"/", None, _MS_REC | _MS_SLAVE, None), "make / rslave")
            root = os.open(root_path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            for b in sorted(binds, key=_depth):  # a parent before what goes inside it
                _bind(root, b)
            ns = os.open("/proc/thread-self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
            out.append(View(root, ns))
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            for fd in (root, ns):
                if fd >= 0:
                    os.close(fd)
            out.append(e)

    t = threading.Thread(target=build, name="archive-view")  # its namespace goes with it, held by ns
    t.start()
    t.join()
    got = out[0]
    if isinstance(got, BaseException):
        if isinstance(got, OSError) and got.errno in (errno.ENOENT, errno.ENOTDIR):
            raise Internal(f"container filesystem view: {got}") from None
        raise got
    return got
