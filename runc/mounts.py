"""Building the container's root filesystem, inside its new mount namespace.

The order follows runc's rootfs setup: make / a slave, bind the rootfs onto
itself, mount the spec's list, make devices and /dev links, then pivot_root;
masked and read-only paths and the read-only root come after the pivot.
"""

from __future__ import annotations

import os
import stat

from berth.runc import libc, mountcheck
from berth.runc.errors import RuncError

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

# option -> (clear?, flag); runc's mount option table
_FLAGS: dict[str, tuple[bool, int]] = {
    "async": (True, libc.MS_SYNCHRONOUS), "atime": (True, libc.MS_NOATIME),
    "bind": (False, libc.MS_BIND), "defaults": (False, 0), "dev": (True, libc.MS_NODEV),
    "diratime": (True, libc.MS_NODIRATIME), "dirsync": (False, libc.MS_DIRSYNC),
    "exec": (True, libc.MS_NOEXEC), "mand": (False, libc.MS_MANDLOCK),
    "noatime": (False, libc.MS_NOATIME), "nodev": (False, libc.MS_NODEV),
    "nodiratime": (False, libc.MS_NODIRATIME), "noexec": (False, libc.MS_NOEXEC),
    "nomand": (True, libc.MS_MANDLOCK), "norelatime": (True, libc.MS_RELATIME),
    "nostrictatime": (True, libc.MS_STRICTATIME), "nosuid": (False, libc.MS_NOSUID),
    "rbind": (False, libc.MS_BIND | libc.MS_REC), "relatime": (False, libc.MS_RELATIME),
    "remount": (False, libc.MS_REMOUNT), "ro": (False, libc.MS_RDONLY), "rw": (True, libc.MS_RDONLY),
    "strictatime": (False, libc.MS_STRICTATIME), "suid": (True, libc.MS_NOSUID),
    "sync": (False, libc.MS_SYNCHRONOUS), "nosymfollow": (False, libc.MS_NOSYMFOLLOW),
    "lazytime": (False, libc.MS_LAZYTIME), "nolazytime": (True, libc.MS_LAZYTIME),
}
PROPAGATION: dict[str, int] = {
    "private": libc.MS_PRIVATE, "shared": libc.MS_SHARED, "slave": libc.MS_SLAVE,
    "unbindable": libc.MS_UNBINDABLE,
    "rprivate": libc.MS_PRIVATE | libc.MS_REC, "rshared": libc.MS_SHARED | libc.MS_REC,
    "rslave": libc.MS_SLAVE | libc.MS_REC, "runbindable": libc.MS_UNBINDABLE | libc.MS_REC,
}

# runc's default devices: (path, type, major, minor, mode)
DEFAULT_DEVICES = [  # runc's order (it shows in the mount table of a user namespace)
    ("/dev/null", "c", 1, 3, 0o666), ("/dev/random", "c", 1, 8, 0o666), ("/dev/full", "c", 1, 7, 0o666),
    ("/dev/tty", "c", 5, 0, 0o666), ("/dev/zero", "c", 1, 5, 0o666), ("/dev/urandom", "c", 1, 9, 0o666),
]
_DEV_LINKS = [("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
              ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr")]


def parse_options(options: list[str]) -> tuple[int, int, list[str]]:
    """(flags, propagation flags, data options) from an OCI mount's options."""
    flags, prop, data = 0, 0, []
    for opt in options:
        if opt in _FLAGS:
            clear, f = _FLAGS[opt]
            flags = flags & ~f if clear else flags | f
        elif opt in PROPAGATION:
            prop |= PROPAGATION[opt]
        else:
            data.append(opt)
    return flags, prop, data


def secure_join(root: str, unsafe: str) -> str:
    """root + unsafe with symlinks resolved as if root were / (never escaping it)."""
    parts = [p for p in unsafe.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        cur = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > 255:
                raise OSError(40, "too many levels of symbolic links", cur)
            target = os.readlink(cur)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def strip_root(rootfs: str, path: str) -> str:
    """A destination given as a host path inside the rootfs, as the path inside it (runc's stripRoot).

    runc accepts both "/mnt/x" and "ROOTFS/mnt/x" and mounts on the same place.
    """
    root = os.path.normpath(rootfs)
    clean = os.path.normpath("/" + path.lstrip("/"))  # (normpath keeps a leading "//")
    if clean == root:
        return "/"
    if root != "/" and clean.startswith(root + "/"):
        return clean[len(root):]
    return clean


def _mode_of(path: str) -> int | None:
    """The permission bits (setuid, setgid, sticky included) of an existing path, following links."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def _mkdir_all(path: str, mode: int = 0o755) -> None:
    os.makedirs(path, mode=mode, exist_ok=True)


def _make_target(dest: str, source_is_dir: bool) -> None:
    if source_is_dir:
        _mkdir_all(dest)
    else:
        _mkdir_all(os.path.dirname(dest))
        if not os.path.lexists(dest):
            os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o755))


def prepare_root(rootfs: str, propagation: str) -> None:
    """Make / a (r)slave unless told otherwise, then bind the rootfs onto itself."""
    flag = PROPAGATION.get(propagation, libc.MS_SLAVE | libc.MS_REC)
    libc.mount(None, "/", None, flag)
    _make_parent_private(rootfs)
    libc.mount(rootfs, rootfs, "bind", libc.MS_BIND | libc.MS_REC)


def _make_parent_private(rootfs: str) -> None:
    """pivot_root refuses a new root whose parent mount is shared (runc does the same)."""
    best = "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if (rootfs == mp or rootfs.startswith(mp.rstrip("/") + "/")) and len(mp) > len(best):
                best = mp
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == best and any(x.startswith("shared:") for x in fields[6:fields.index("-")]):
                libc.mount(None, best, None, libc.MS_PRIVATE)
                return


def mount_one(rootfs: str, m: dict[str, Any], cgroup_paths: dict[str, str], new_cgroupns: bool) -> list[tuple[str, int]]:
    """Mount one spec entry; returns [(dest, flags)] that must become read-only at the end."""
    mtype = m.get("type") or ""
    options = m.get("options") or []
    flags, prop, data = parse_options(options)
    source = m.get("source") or ""
    mountcheck.check_kernel_fs(rootfs, m)  # before anything follows the destination
    dest = secure_join(rootfs, strip_root(rootfs, m["destination"]))
    deferred: list[tuple[str, int]] = []
    if mtype == "bind" or flags & libc.MS_BIND:
        src_is_dir = os.path.isdir(source)
        if not os.path.exists(source):
            raise OSError(2, "No such file or directory", source)
        mountcheck.check_bind_in_proc(rootfs, dest, m)
        _make_target(dest, src_is_dir)
        libc.mount(source, dest, "bind", libc.MS_BIND | (flags & libc.MS_REC))
        extra = flags & ~(libc.MS_BIND | libc.MS_REC | libc.MS_REMOUNT)
        if extra:
            libc.mount(source, dest, None, libc.MS_BIND | libc.MS_REMOUNT | extra)
    elif mtype == "cgroup":
        _mount_cgroup(dest, flags, cgroup_paths, new_cgroupns)
    else:
        covered = _mode_of(dest) if mtype == "tmpfs" else None
        _mkdir_all(dest)
        if mtype == "tmpfs":
            # populate first (e.g. /dev), remount read-only at the end like runc
            libc.mount(source, dest, mtype, flags & ~libc.MS_RDONLY, ",".join(data) or None)
            if covered is not None:
                os.chmod(dest, covered)  # runc: the tmpfs takes the mode of the directory it covers
            if flags & libc.MS_RDONLY:
                deferred.append((dest, flags))
        else:
            try:
                libc.mount(source, dest, mtype, flags, ",".join(data) or None)
            except PermissionError:
                if mtype not in ("sysfs", "mqueue"):
                    raise
                # no private netns/ipcns of our own: runc falls back to a recursive bind
                host = "/sys" if mtype == "sysfs" else "/dev/mqueue"
                libc.mount(host, dest, "bind", libc.MS_BIND | libc.MS_REC)
                libc.mount(host, dest, None, libc.MS_BIND | libc.MS_REMOUNT | libc.MS_REC | flags)
    if prop:
        libc.mount(None, dest, None, prop)
    return deferred


def _mount_cgroup(dest: str, flags: int, cgroup_paths: dict[str, str], new_cgroupns: bool) -> None:
    """cgroup v2: the container's own cgroup; v1: a tmpfs of per-hierarchy mounts, as runc."""
    hierarchies = _host_cgroup_mounts()
    _mkdir_all(dest)
    if "" in hierarchies and len(hierarchies) == 1:  # pure v2 host
        if new_cgroupns:
            libc.mount("cgroup2", dest, "cgroup2", flags)
        else:
            src = cgroup_paths.get("") or cgroup_paths.get("unified") or hierarchies[""][0]
            libc.mount(src, dest, "bind", libc.MS_BIND | libc.MS_REC)
            libc.mount(src, dest, None, libc.MS_BIND | libc.MS_REMOUNT | flags)
        return
    libc.mount("tmpfs", dest, "tmpfs", flags & ~libc.MS_RDONLY, "mode=755")
    for name, (mountpoint, opts) in hierarchies.items():  # host order, as runc
        if name == "":
            continue
        sub = os.path.join(dest, name)
        _mkdir_all(sub)
        if new_cgroupns:
            libc.mount("systemd" if name == "systemd" else "cgroup", sub, "cgroup", flags, opts)
        else:
            src = _container_cgroup_dir(mountpoint, name, cgroup_paths)
            libc.mount(src, sub, "bind", libc.MS_BIND | libc.MS_REC)
            libc.mount(src, sub, None, libc.MS_BIND | libc.MS_REMOUNT | flags)
        if "," in name:
            for part in name.split(","):
                link = os.path.join(dest, part)
                if not os.path.lexists(link):
                    os.symlink(name, link)
    # runc leaves the tmpfs itself writable; only the hierarchies are read-only


def _container_cgroup_dir(mountpoint: str, name: str, cgroup_paths: dict[str, str]) -> str:
    # the named hierarchy's dir is "systemd", its key in the manager's paths "name=systemd":
    # missing it gave the container the host's whole tree there (a nested engine's cgroups
    # then landed at the host's top, outliving the container)
    for key in [name, *name.split(","), f"name={name}"]:
        path = cgroup_paths.get(key)
        if path and os.path.isdir(path):
            return path
    return mountpoint


def _host_cgroup_mounts() -> dict[str, tuple[str, str]]:
    """hierarchy dir name -> (mount point, mount data for a fresh mount); '' is cgroup2 at the root."""
    out: dict[str, tuple[str, str]] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, super_opts = fields[sep + 1], fields[sep + 3]
            mp = fields[4]
            if fstype == "cgroup" and mp.startswith("/sys/fs/cgroup/"):
                opts = [o for o in super_opts.split(",") if o not in ("rw", "ro")]
                out[os.path.basename(mp)] = (mp, ",".join(opts))
            elif fstype == "cgroup2" and mp == "/sys/fs/cgroup":
                out[""] = (mp, "")
    return out


def create_devices(rootfs: str, devices: list[dict[str, Any]], bind: bool) -> None:
    """The default devices plus linux.devices: mknod, or bind the host's node in a user ns."""
    wanted: dict[str, tuple[str, int, int, int, int, int]] = {}
    for path, t, major, minor, mode in DEFAULT_DEVICES:
        wanted[path] = (t, major, minor, mode, 0, 0)
    for d in devices:
        wanted[d["path"]] = (d.get("type", "c"), d.get("major", 0), d.get("minor", 0),
                             d.get("fileMode", 0o666), d.get("uid", 0), d.get("gid", 0))
    for path, (t, major, minor, mode, uid, gid) in wanted.items():
        dest = secure_join(rootfs, path)
        _mkdir_all(os.path.dirname(dest))
        if bind:
            _make_target(dest, False)
            libc.mount(path, dest, "bind", libc.MS_BIND)
            continue
        kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[t]
        if os.path.lexists(dest):
            os.unlink(dest)
        try:
            os.mknod(dest, kind | (mode & 0o7777), os.makedev(major, minor))
        except OSError as e:  # os.mknod's error names no path: say which node, as runc does
            raise RuncError(f"mknod {dest}: {(e.strerror or str(e)).lower()}") from None
        os.chmod(dest, mode & 0o7777)  # mknod honours the umask
        os.chown(dest, uid, gid)


def dev_links(rootfs: str) -> None:
    links = list(_DEV_LINKS)
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    dev = secure_join(rootfs, "/dev")  # a rootfs's dev may be a symlink out of it: stay inside
    for target, link in links:
        dest = os.path.join(dev, os.path.basename(link))
        if not os.path.lexists(dest):
            os.symlink(target, dest)


def setup_ptmx(rootfs: str) -> None:
    dest = os.path.join(secure_join(rootfs, "/dev"), "ptmx")
    if os.path.lexists(dest):
        os.unlink(dest)
    os.symlink("pts/ptmx", dest)


def pivot_root(rootfs: str) -> None:
    """runc's pivot_root(".", "."): no put_old directory left in the container."""
    oldroot = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    newroot = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(newroot)
        libc.pivot_root(".", ".")
        os.fchdir(oldroot)
        # the old root must not propagate its unmount to the host
        libc.mount(None, ".", None, libc.MS_SLAVE | libc.MS_REC)
        libc.umount2(".", libc.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(oldroot)
        os.close(newroot)


def move_root(rootfs: str) -> None:
    """--no-pivot: move the rootfs over / and chroot into it."""
    os.chdir(rootfs)
    libc.mount(rootfs, "/", None, libc.MS_MOVE)
    os.chroot(".")
    os.chdir("/")


def mask_path(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            libc.mount("tmpfs", path, "tmpfs", libc.MS_RDONLY)
        else:
            libc.mount("/dev/null", path, None, libc.MS_BIND)
    except FileNotFoundError:
        pass
    except NotADirectoryError:
        pass


def readonly_path(path: str) -> None:
    try:
        libc.mount(path, path, None, libc.MS_BIND | libc.MS_REC)
    except FileNotFoundError:
        return
    libc.mount(path, path, None, libc.MS_BIND | libc.MS_REMOUNT | libc.MS_RDONLY | libc.MS_REC | _statvfs_flags(path))


def _statvfs_flags(path: str) -> int:
    """Locked flags (nosuid/nodev/noexec/...) must be kept on a bind remount."""
    st = os.statvfs(path)
    flags = 0
    for bit, ms in ((os.ST_NOSUID, libc.MS_NOSUID), (os.ST_NODEV, libc.MS_NODEV),
                    (os.ST_NOEXEC, libc.MS_NOEXEC), (os.ST_NOATIME, libc.MS_NOATIME),
                    (os.ST_NODIRATIME, libc.MS_NODIRATIME), (os.ST_RELATIME, libc.MS_RELATIME)):
        if st.f_flag & bit:
            flags |= ms
    return flags


def readonly_root() -> None:
    libc.mount("/", "/", None, libc.MS_BIND | libc.MS_REMOUNT | libc.MS_RDONLY | _statvfs_flags("/"))
