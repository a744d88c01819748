"""Turning the spec's `process` into the credentials and limits of the calling process.

Used by the container init and by exec'd processes alike, in runc's order: drop
the bounding set, keep caps across setuid, switch user, chdir, then set the
remaining capability sets.
"""

from __future__ import annotations

import errno
import functools
import os
import resource
import signal
import stat

from berth.common.capabilities import BY_NUMBER
from berth.runc import libc
from berth.runc.errors import RuncError

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

_CAP_INDEX = {name: i for i, name in enumerate(BY_NUMBER)}

# Linux's resource numbers (the resource module lacks some of them)
RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}


@functools.cache
def _last_cap() -> int:
    """cap_last_cap, read once: a property of the running kernel."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(BY_NUMBER) - 1


def cap_mask(names: list[str] | None) -> int:
    """The bit mask of `names`; unknown or unavailable ones are skipped, as runc does."""
    mask = 0
    last = _last_cap()
    for n in names or []:
        i = _CAP_INDEX.get(n)
        if i is not None and i <= last:
            mask |= 1 << i
    return mask


def unknown_caps(process: dict[str, Any]) -> list[str]:
    """Names runc would warn about ("ignoring unknown or unavailable capabilities")."""
    last = _last_cap()
    seen: dict[str, None] = {}
    for names in (process.get("capabilities") or {}).values():
        for n in names or []:
            if _CAP_INDEX.get(n, last + 1) > last:
                seen[n] = None
    return list(seen)


def set_rlimits(process: dict[str, Any]) -> None:
    for rl in process.get("rlimits") or []:
        kind = RLIMITS[rl["type"]]  # checked by config.validate
        resource.setrlimit(kind, (rl.get("soft", 0), rl.get("hard", 0)))


def setup_user(user: dict[str, Any]) -> None:
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    fix_stdio_owner(uid)
    groups = list(user.get("additionalGids") or [])
    if _setgroups_allowed():
        os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def fix_stdio_owner(uid: int) -> None:
    """Give stdio to the process's user, as runc's fixStdioPermissions, so it can use its terminal.

    Only the uid changes: the gid stays what the kernel gave (a pty slave: devpts's
    gid=5, tty). /dev/null and what is already the user's are left alone, and so is
    what cannot be changed here (an owner or gid not mapped in a user namespace, a
    read-only /dev): runc skips EINVAL, EPERM and EROFS.
    """
    null = os.stat("/dev/null").st_rdev
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
        except OSError:
            continue  # a closed stdio fd (runc fails on it; nothing to give away here)
        if st.st_uid == uid or st.st_rdev == null:
            continue
        try:
            os.fchown(fd, uid, st.st_gid)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.EPERM, errno.EROFS):
                raise


def _setgroups_allowed() -> bool:
    try:  # plain os calls: a text file's set-up was ~0.2 ms of every exec's child
        fd = os.open("/proc/self/setgroups", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return True
    try:
        return os.read(fd, 64).strip() != b"deny"
    except OSError:
        return True
    finally:
        os.close(fd)


class CapPlan:
    """The capability sets of a process as numbers, worked out before the fork (an exec's
    parent), so that its child only makes the calls. A plain class: see seccomp.SeccompFilter."""

    __slots__ = ("drop", "ambient", "capset")

    def __init__(self, caps: dict[str, Any]) -> None:
        keep = cap_mask(caps.get("bounding"))
        self.drop = tuple(i for i in range(_last_cap() + 1) if not keep & (1 << i))
        self.capset = libc.capset_args(cap_mask(caps.get("effective")), cap_mask(caps.get("permitted")),
                                       cap_mask(caps.get("inheritable")))
        # unknown or unavailable names are skipped, as in the other sets (runc's warning)
        self.ambient = tuple(i for i in (_CAP_INDEX.get(n, -1) for n in caps.get("ambient") or [])
                             if 0 <= i <= _last_cap())


def plan_caps(process: dict[str, Any]) -> CapPlan | None:
    """The process's capabilities as a CapPlan; None when it names none (nothing is changed)."""
    caps = process.get("capabilities")
    return None if caps is None else CapPlan(caps)


def drop_bounding(plan: CapPlan) -> None:
    for i in plan.drop:
        libc.prctl(libc.PR_CAPBSET_DROP, i)


def apply_caps(plan: CapPlan) -> None:
    libc.capset_with(plan.capset)
    libc.prctl(libc.PR_CAP_AMBIENT, libc.PR_CAP_AMBIENT_CLEAR_ALL)
    for i in plan.ambient:
        try:
            libc.prctl(libc.PR_CAP_AMBIENT, libc.PR_CAP_AMBIENT_RAISE, i)
        except OSError:
            pass  # runc ignores an ambient cap that is not permitted+inheritable


def env_list(process: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in process.get("env") or []:
        k, sep, v = item.partition("=")
        if sep:
            env[k] = v
    return env


def look_path(name: str, env: dict[str, str]) -> str:
    """Go's exec.LookPath in the container's root, with its error wording."""
    if "/" in name:
        if _is_executable(name):
            return name
        if not os.path.exists(name):
            raise RuncError(f"exec: {name!r}: stat {name}: no such file or directory".replace("'", '"'))
        raise RuncError(f'exec: "{name}": permission denied')
    for d in env.get("PATH", "").split(":"):
        path = os.path.join(d or ".", name)
        if _is_executable(path):
            return path
    raise RuncError(f'exec: "{name}": executable file not found in $PATH')


def _is_executable(path: str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return not stat.S_ISDIR(st.st_mode) and bool(st.st_mode & 0o111)


def reset_signals() -> None:
    """Python ignores SIGPIPE and SIGXFSZ; ignored signals survive execve, defaults must not."""
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)


def close_extra_fds(preserve: int) -> None:
    """Only stdio and the first `preserve` fds after it reach the process (runc's --preserve-fds):
    every later one is made close-on-exec, in one close_range(2) where the kernel has it."""
    first = 3 + preserve
    if libc.close_range_cloexec(first):
        return
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # the directory's own fd, already closed


def finalize(process: dict[str, Any], caps: CapPlan | None = None) -> None:
    """Bounding set, user, cwd, then the capability sets (runc's finalizeNamespace); `caps`
    is the process's plan_caps when the caller made it already."""
    if caps is None:
        caps = plan_caps(process)
    if caps is not None:
        drop_bounding(caps)
    libc.prctl(libc.PR_SET_KEEPCAPS, 1)
    setup_user(process.get("user") or {})
    cwd = process.get("cwd") or "/"
    try:
        os.chdir(cwd)
    except OSError as e:
        raise RuncError(f"chdir to cwd ({cwd!r}) set in config.json failed: {e.strerror.lower()}".replace("'", '"')) from None
    libc.prctl(libc.PR_SET_KEEPCAPS, 0)
    if caps is not None:
        apply_caps(caps)
