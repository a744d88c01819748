"""`exec`: start another process inside a running container.

The caller enters the container's pid namespace for its children only, forks,
and returns to its own: the new process is then the caller's direct child and
already in the right pid namespace, without a second fork. The child is in the
container's cgroups before it does anything else, without the global migration lock a
write of its pid would take (an RCU grace period, up to ~15 ms: berth.runc.cgroups.join):
born in the unified one (clone3 with CLONE_INTO_CGROUP), it writes itself into each v1
hierarchy's `tasks`. Then it joins the other namespaces (user first) and applies the
process settings like the init does (session, tty, rlimits, seccomp, capabilities and
user, cwd, the executable's lookup). Its execve waits for the parent's go (the
"ready"/"go" exchange), after the parent's own join where the child could not do it
(a kernel older than 5.7, a cgroup that could not be opened); with
no_new_privs the seccomp filter is loaded after the go, right before the execve, as runc
does (without, it needs CAP_SYS_ADMIN and comes before the capabilities are dropped, so
the filter then also covers the exchange's one write and read). What the child
imports is imported before the fork, so that a caller that stays (the shim) pays it
once, not at every exec; so are the container's record and seccomp filter, kept while its
state file is the same (_prepared), and the filter's syscall arguments and the capability
sets are worked out before the fork: the child makes only the calls.
"""

from __future__ import annotations

import fcntl
import os
import sys

from berth.runc import config, libc, record as st
from berth.runc.cgroups import join as cgjoin
from berth.runc.clone3 import fork_into_cgroup
from berth.runc.errors import RuncError
from berth.runc.fds import close_all_but, install_stdio
from berth.runc.sync import Channel, channel_pair

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

# the order runc joins them in: user first (the rest belong to it), mount last
_JOIN_ORDER = ["user", "ipc", "uts", "network", "cgroup", "time", "mount"]


def exec_process(root: str, container_id: str, process: dict[str, Any], stdio: tuple[int, int, int] | None = None,
                 detach: bool = True, pid_file: str | None = None, console_socket: str | None = None,
                 preserve_fds: int = 0, ignore_paused: bool = False) -> int:
    """Run `process` (an OCI process object) in the container; returns its host pid.

    In a paused container (with `ignore_paused`) the process joins the frozen cgroup and
    freezes before its execve: this returns once the container is resumed, as in runc.
    """
    rec, seccomp = _prepared(root, container_id)
    status = st.status(root, rec)
    if status == "stopped":
        raise RuncError("cannot exec in a stopped container")
    if status == "paused" and not ignore_paused:
        raise RuncError("cannot exec in a paused container (use --ignore-paused to override)")
    if not process.get("args"):
        raise RuncError("args must not be empty")
    if process.get("terminal") and console_socket is None and detach:
        raise RuncError("cannot allocate tty if runc will detach without setting console socket")
    # As runc: what the exec'd process does not say, it inherits from the container's
    # process, above all its capabilities (else it would run with all of root's).
    own = rec.config.get("process") or {}
    process = {**{k: own[k] for k in ("capabilities", "rlimits", "oomScoreAdj")
                  if k in own}, **process}
    from berth.runc import console as _con, process as proc_mod  # noqa: F401 - the child's, before setns(mnt)
    from berth.runc.init import _home_of, error_text, execve, report_error  # noqa: F401
    from berth.runc.lifecycle import _manager
    from berth.runc.nodump import Forking

    mgr = _manager(rec)
    caps = proc_mod.plan_caps(process)  # the child only makes the calls
    pidns = rec.namespaces.get("pid")
    console = None
    if console_socket is not None:
        from berth.runc.console import connect

        console = connect(console_socket)
    parent_chan, child_chan = channel_pair()
    join = None
    try:
        join = cgjoin.prepare(mgr.paths()) if mgr is not None else None
        with Forking():  # non-dumpable from the child's first instruction (CVE-2019-5736)
            child = _fork_into(pidns, join) if pidns else _fork(join)
    except BaseException:  # the shim runs execs in its own process: nothing of a failed one stays open
        for end in (console, parent_chan, child_chan, join):
            if end is not None:
                end.close()
        raise
    if child == 0:  # pragma: no cover - runs in the child
        code = 1
        if (sig := sys.modules.get("signal")) is not None:
            sig.set_wakeup_fd(-1)  # a caller's loop (the shim's) must not hear our signals
        try:
            # before anything can fail: an error's report waits for the parent's end to
            # close, which it never would while this copy of it is open
            parent_chan.close()
            if join is not None:
                join.join_self()  # first: nothing of ours runs outside the container's cgroups
            _child(rec, process, child_chan, stdio, console, seccomp, caps, preserve_fds)
        except BaseException as e:  # noqa: BLE001 - report everything, one line
            report_error(child_chan, error_text(e))
            _until_parent_ends(child_chan)
        os._exit(code)
    child_chan.close()
    if console is not None:
        console.close()
    chan = parent_chan
    try:
        _parent(mgr, join, chan, child)
    except BaseException:
        try:
            os.kill(child, 9)
            os.waitpid(child, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        raise
    finally:
        chan.close()
        if join is not None:
            join.close()
    if pid_file:
        from berth.runc.launch import _write_pid_file

        _write_pid_file(pid_file, child)
    return child


# the last container's record and filter, while its state file is the same: a shim execs
# in one container again and again, and loading and keying them was ~0.7 ms of each exec
_memo: dict[str, tuple[tuple[int, int, int], st.Record, Any]] = {}


def _prepared(root: str, container_id: str) -> tuple[st.Record, Any]:
    """The container's record and its seccomp filter (prepared: the child only loads it),
    as of its state file now. Every save replaces that file (a rename), so its inode,
    mtime and size tell whether what we hold is still what it says."""
    st.validate_id(container_id)
    path = os.path.join(root, container_id, st.STATE_FILE)
    try:
        s = os.stat(path)
        key = (s.st_ino, s.st_mtime_ns, s.st_size)
    except OSError:
        key = None  # st.load says what is wrong
    held = _memo.get(path)
    if key is not None and held is not None and held[0] == key:
        return held[1], held[2]
    rec = st.load(root, container_id)
    seccomp = None
    if (rec.config.get("linux") or {}).get("seccomp"):
        from berth.runc.launch import compile_seccomp

        seccomp = compile_seccomp(rec.config, root)
        seccomp.prepare()
    for _key, _rec, old in _memo.values():  # one container's worth, never more
        if old is not None:
            old.release()  # libseccomp's copy of a filter the cache did not hold
    _memo.clear()
    if key is not None:
        _memo[path] = (key, rec, seccomp)
    return rec, seccomp


_NS_GET_USERNS = 0xB701  # ioctl_ns(2): an fd of the user namespace that owns a namespace


def _owned_elsewhere_first(fds: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The join order, with the namespaces the container's user namespace does not own (a
    network namespace the engine made, as berthd's under --userns-remap) joined before it:
    once in that user namespace we have no capability over them."""
    user = [fd for t, fd in fds if t == "user"]
    if not user:
        return fds
    target = os.fstat(user[0]).st_ino
    early = []
    for t, fd in fds:
        if t == "user":
            continue
        try:
            owner = fcntl.ioctl(fd, _NS_GET_USERNS)
        except OSError:
            continue
        try:
            if os.fstat(owner).st_ino != target:
                early.append((t, fd))
        finally:
            os.close(owner)
    return early + [f for f in fds if f not in early]


def _until_parent_ends(chan: Channel) -> None:
    """After an error before the go: alive until the parent has read it and killed us (or
    went away), so that its cgroup join, if it makes one, never meets a pid that has
    already exited, and the error it reports is ours."""
    if chan.closed:
        return
    try:
        while chan.recv() is not None:
            pass
    except (OSError, ValueError):
        pass


def _fork(join: cgjoin.ExecJoin | None) -> int:
    """fork(), straight into the container's unified cgroup when there is one and the
    kernel can (clone3 with CLONE_INTO_CGROUP); join.born_in says whether it did."""
    if join is not None and join.unified is not None:
        pid = fork_into_cgroup(join.unified)
        if pid is not None:
            join.born_in = True
            return pid
    return os.fork()


def _fork_into(pidns: str, join: cgjoin.ExecJoin | None) -> int:
    """_fork() with the child in `pidns`; our own pid_for_children is restored after."""
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(pidns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        libc.setns(target, libc.CLONE_NEWPID)
        try:
            pid = _fork(join)
        except BaseException:
            libc.setns(own, libc.CLONE_NEWPID)
            raise
        if pid:
            libc.setns(own, libc.CLONE_NEWPID)
        return pid
    finally:
        os.close(own)
        os.close(target)


def _parent(mgr: Any, join: cgjoin.ExecJoin | None, chan: Channel, child: int) -> None:
    if join is not None:
        join.join_rest(child)  # only what the child's birth and its own writes do not
    elif mgr is not None:
        mgr.apply(child)  # a cgroup we could not open: this write says which, and why
    msg = chan.recv()  # "ready": it joined the namespaces and did all but its execve
    if msg is None:
        raise RuncError("exec process exited prematurely")
    if msg["type"] == "error":
        raise RuncError("unable to start container process: " + msg["msg"])
    from berth.runc.debug import debug

    debug("exec: process ready in the container", pid=child)
    chan.send("go")
    msg = chan.recv()  # EOF: the exec succeeded and closed the channel (CLOEXEC)
    if msg is not None and msg.get("type") == "error":
        raise RuncError("unable to start container process: " + msg["msg"])


def _child(rec: st.Record, process: dict[str, Any], chan: Channel, stdio: tuple[int, int, int] | None,
           console: Any, seccomp: Any, caps: Any, preserve_fds: int = 0) -> None:
    from berth.runc import process as proc_mod

    install_stdio(stdio)
    own = [chan.rfd, chan.wfd] + ([console.fileno()] if console is not None else [])
    close_all_but(own, preserve_fds)  # before joining: none of the caller's fds enter the container
    if process.get("oomScoreAdj") is not None:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(process["oomScoreAdj"]))
    fds = []
    for t in _JOIN_ORDER:
        path = rec.namespaces.get(t)
        if path:
            fds.append((t, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
    for t, fd in _owned_elsewhere_first(fds):
        libc.setns(fd, config.NAMESPACES[t][0])
        os.close(fd)
    if "user" in rec.namespaces:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    os.setsid()
    if process.get("terminal"):
        from berth.runc import console as con

        master, slave = con.open_pty()
        con.set_size(master, process.get("consoleSize"))
        con.send_master(console, master, "/dev/ptmx")
        os.close(master)
        console.close()
        con.become_tty(slave)
    proc_mod.set_rlimits(process)
    if seccomp is not None and not process.get("noNewPrivileges"):
        seccomp.load()
    proc_mod.finalize(process, caps)
    user = process.get("user") or {}
    if user.get("umask") is not None:
        os.umask(user["umask"])
    env = proc_mod.env_list(process)
    if not env.get("HOME"):  # none, or empty: the user's, as runc
        from berth.runc.init import _home_of

        env["HOME"] = _home_of(user.get("uid", 0))
    name = proc_mod.look_path(process["args"][0], env)
    if process.get("noNewPrivileges"):
        libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
    proc_mod.reset_signals()
    proc_mod.close_extra_fds(preserve_fds)
    from berth.runc.init import execve

    # Ready but for the execve (nothing of the container's runs before the go, which
    # follows the parent's join where it makes one)
    chan.send("ready")
    chan.expect("go")
    if seccomp is not None and process.get("noNewPrivileges"):
        seccomp.load()  # as late as possible, as runc: with no_new_privs it needs no capability
    # As runc's: the exec is started once it is ready to execve; a failing execve is
    # the process's own error, on its stderr with exit status 1.
    chan.close()
    execve(name, process["args"], env)


def process_from_args(rec: st.Record, args: Any) -> dict[str, Any]:
    """runc exec's flags over the container's own process (or --process FILE)."""
    import copy
    import json

    if args.process:
        with open(args.process) as f:
            return json.load(f)
    proc = copy.deepcopy(rec.config.get("process") or {})
    if not args.command:
        raise RuncError("exec args cannot be empty")
    proc["args"] = list(args.command)
    proc["terminal"] = bool(args.tty)
    if args.cwd:
        proc["cwd"] = args.cwd
    env = list(proc.get("env") or [])
    for item in args.env:
        key = item.split("=", 1)[0]
        env = [e for e in env if e.split("=", 1)[0] != key] + [item]
    proc["env"] = env
    user = dict(proc.get("user") or {})
    if args.user:
        uid, _, gid = args.user.partition(":")
        user["uid"] = int(uid)
        if gid:  # without one, runc keeps the container's gid
            user["gid"] = int(gid)
    if args.additional_gids:
        user["additionalGids"] = [int(g) for g in args.additional_gids]
    proc["user"] = user
    if args.cap:
        caps = proc.setdefault("capabilities", {})
        # runc's --cap (since CVE-2022-29162): never the inheritable set, and the ambient
        # one only when the process has an inheritable set to go with it
        keys = ["bounding", "effective", "permitted"] + (["ambient"] if caps.get("inheritable") is not None else [])
        for key in keys:
            caps[key] = list(dict.fromkeys((caps.get(key) or []) + args.cap))
    if args.no_new_privs:
        proc["noNewPrivileges"] = True
    return proc


def exec_cli(args: Any) -> int:
    """The `exec` command: detached returns 0; in the foreground, the process's exit status."""
    from berth.runc import foreground, libc as lc

    rec = st.load(args.root, args.id)
    proc = process_from_args(rec, args)
    console = None
    console_socket = args.console_socket
    if not args.detach:
        lc.prctl(lc.PR_SET_CHILD_SUBREAPER, 1)
        if proc.get("terminal") and console_socket is None:
            console = foreground.Console()  # we hold the pty and copy it to our stdio, as runc
            console_socket = console.address
    try:
        pid = exec_process(args.root, args.id, proc, detach=args.detach, pid_file=args.pid_file,
                           console_socket=console_socket, preserve_fds=int(args.preserve_fds),
                           ignore_paused=args.ignore_paused)
        if console is not None:
            console.receive()
    except BaseException:
        if console is not None:
            console.close()
        raise
    if args.detach:
        return 0
    return foreground.wait_process(pid, console)
