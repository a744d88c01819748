"""The container's init: what runs in the forked child between fork and execve.

The steps and their order follow runc's nsexec + standard init: join or create
namespaces (user first, so the others belong to it), fork again so the init is
pid 1, wait for the runtime to place it in its cgroup, build the rootfs, pivot,
apply the process settings, report ready, block on exec.fifo until `start`,
then execve. Any failure is sent to the runtime as one line and the child exits.
"""

from __future__ import annotations

import os

from berth.runc import config, libc, mounts, process
from berth.runc.errors import RuncError
from berth.runc.fds import close_all_but, install_stdio
from berth.runc.sync import Channel

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any, NoReturn


class InitContext:
    """Everything the init needs, handed over by fork (a plain class: see record.Record)."""

    def __init__(self, spec: dict[str, Any], rootfs: str, fifo_fd: int, no_pivot: bool = False,
                 stdio: tuple[int, int, int] | None = None, console: Any = None, seccomp: Any = None) -> None:
        self.spec = spec
        self.rootfs = rootfs
        self.fifo_fd = fifo_fd  # O_PATH fd of exec.fifo; reopened through /proc/self/fd after the pivot
        self.no_pivot = no_pivot
        self.stdio = stdio
        self.console = console  # connected console socket when process.terminal
        self.seccomp = seccomp  # compiled filter from berth.runc.seccomp
        self.state: dict[str, Any] = {}  # base OCI state for in-container hooks
        self.pid_ns_made = False  # the runtime forked us into a new pid namespace already
        self.cgroup_paths: dict[str, str] = {}  # where the runtime puts us (known before the fork)
        self.preserve_fds = 0  # fds 3..3+N-1 of the runtime pass through to the process


def child_main(ctx: InitContext, chan: Channel) -> NoReturn:
    """Never returns: either execve succeeds or the child exits after reporting."""
    code = 1
    try:
        _init(ctx, chan)
    except SystemExit as e:  # the intermediate process of a double fork
        code = int(e.code or 0)
    except BaseException as e:  # noqa: BLE001 - everything must reach the runtime
        if os.environ.get("BERTH_RUNC_DEBUG"):
            import traceback

            traceback.print_exc()
        report_error(chan, error_text(e))
    os._exit(code)


def report_error(chan: Channel, text: str) -> None:
    """To the runtime while it listens; once the channel is closed (after `start`, or
    right before an exec's execve) to the process's stderr, as runc's init prints it."""
    if not chan.closed:
        try:
            chan.send("error", msg=text)
            return
        except OSError:
            pass
    try:
        os.write(2, text.encode(errors="replace") + b"\n")
    except OSError:
        pass


def execve(name: str, args: list[str], env: dict[str, str]) -> NoReturn:
    """execve, with runc's words when it fails ("exec /run.sh: no such file or directory")."""
    try:
        os.execve(name, args, env)
    except OSError as e:
        raise RuncError(f"exec {name}: {(e.strerror or str(e)).lower()}") from None


def error_text(e: BaseException) -> str:
    if isinstance(e, RuncError):
        return str(e)
    if isinstance(e, OSError):
        msg = (e.strerror or str(e)).lower()
        return f"{e.filename}: {msg}" if e.filename else msg
    return f"{type(e).__name__}: {e}"


def _init(ctx: InitContext, chan: Channel) -> None:
    spec = ctx.spec
    nss = config.namespaces(spec)
    _preload(spec)
    install_stdio(ctx.stdio)
    own = [ctx.fifo_fd, chan.rfd, chan.wfd] + ([ctx.console.fileno()] if ctx.console is not None else [])
    close_all_but(own, ctx.preserve_fds)  # the caller's other fds must not wait in the container
    _write_oom_score(spec["process"])
    _enter_namespaces(ctx, chan, nss)
    _build_container(ctx, chan, nss)
    _become_the_process(ctx, chan)


def _enter_namespaces(ctx: InitContext, chan: Channel, nss: dict[str, str]) -> None:
    """Join the given namespaces, make the new ones, and become pid 1 (or report our pid)."""
    _join_namespaces(nss)
    if nss.get("user") == "":
        libc.unshare(libc.CLONE_NEWUSER)
        from berth.runc.nodump import set_dumpable

        set_dumpable(True)  # as runc's nsexec: the maps are written while we are dumpable
        chan.send("userns")  # the runtime writes our uid/gid maps
        chan.expect("ack")
        set_dumpable(False)
    if "user" in nss:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    flags = 0
    for t, path in nss.items():
        if path == "" and t not in ("user", "cgroup") and not (t == "pid" and ctx.pid_ns_made):
            flags |= config.NAMESPACES[t][0]
    if flags:
        libc.unshare(flags)
    if ctx.pid_ns_made:
        chan.send("pid", pid=0)  # the runtime knows our host pid from its fork
    elif "pid" in nss:
        child = os.fork()  # unshare(CLONE_NEWPID) applies to children only
        if child:
            chan.send("pid", pid=child)
            raise SystemExit(0)
    else:
        chan.send("pid", pid=os.getpid())


def _build_container(ctx: InitContext, chan: Channel, nss: dict[str, str]) -> None:
    """Rootfs, hooks up to createContainer, pivot, then what needs the final root."""
    spec = ctx.spec
    linux = spec.get("linux") or {}
    placed = False
    if nss.get("cgroup") == "":
        # a new cgroup namespace is rooted where we are: wait until we are in our cgroup
        ctx.state = chan.expect("cgroup").get("state") or {}
        placed = True
        libc.unshare(libc.CLONE_NEWCGROUP)
    os.setsid()
    hooks = spec.get("hooks") or {}
    deferred_ro = _build_rootfs(ctx, nss, ctx.cgroup_paths, linux)
    if not placed:  # from here on, hooks and the user's process run: they must be in the cgroup
        ctx.state = chan.expect("cgroup").get("state") or {}
    if hooks.get("prestart") or hooks.get("createRuntime"):
        chan.send("hooks")  # run by the runtime, in its namespaces
        chan.expect("ack")
    # its error is "during container init", as any before ready; runc runs it in the rootfs
    _run_hooks(hooks, "createContainer", ctx.state, env=process.env_list(spec["process"]), cwd=ctx.rootfs)
    if ctx.no_pivot:
        mounts.move_root(ctx.rootfs)
    else:
        mounts.pivot_root(ctx.rootfs)
    if spec["process"].get("terminal"):
        _setup_console(ctx, spec["process"])
    for dest, fl in deferred_ro:
        inside = "/" + os.path.relpath(dest, ctx.rootfs)
        libc.mount(None, inside, None, libc.MS_REMOUNT | libc.MS_BIND | fl)  # per-mount ro, as runc
    if (spec.get("root") or {}).get("readonly"):
        mounts.readonly_root()
    if spec.get("hostname"):
        libc.sethostname(spec["hostname"])
    if spec.get("domainname"):
        libc.setdomainname(spec["domainname"])
    for key, value in (linux.get("sysctl") or {}).items():
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)
    for p in linux.get("readonlyPaths") or []:
        mounts.readonly_path(p)
    for p in linux.get("maskedPaths") or []:
        mounts.mask_path(p)


def _become_the_process(ctx: InitContext, chan: Channel) -> None:
    """Credentials and limits, report ready, wait for `start` on exec.fifo, execve."""
    proc = ctx.spec["process"]
    process.set_rlimits(proc)
    chan.send("ready")
    if ctx.seccomp is not None and not proc.get("noNewPrivileges"):
        ctx.seccomp.load()  # privileged without NNP: before the caps are dropped
    process.finalize(proc)
    user = proc.get("user") or {}
    os.umask(user["umask"] if user.get("umask") is not None else 0o022)
    env = process.env_list(proc)
    if not env.get("HOME"):  # none, or empty: the user's, as runc
        env["HOME"] = _home_of(user.get("uid", 0))
    name = process.look_path(proc["args"][0], env)  # a missing command is a create-time error
    chan.close()
    fd = os.open(f"/proc/self/fd/{ctx.fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)  # blocks until `start`
    os.write(fd, b"0")
    os.close(fd)
    os.close(ctx.fifo_fd)
    if proc.get("noNewPrivileges"):
        libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
    if ctx.seccomp is not None and proc.get("noNewPrivileges"):
        ctx.seccomp.load()
    hooks = ctx.spec.get("hooks") or {}
    _run_hooks(hooks, "startContainer", {**ctx.state, "pid": os.getpid(), "status": "created"}, env=env)
    process.reset_signals()
    process.close_extra_fds(ctx.preserve_fds)
    execve(name, proc["args"], env)


def _preload(spec: dict[str, Any]) -> None:
    """Import now what runs after pivot_root, when our modules are out of reach."""
    if (spec.get("process") or {}).get("terminal"):
        import berth.runc.console  # noqa: F401
    if spec.get("hooks"):
        import subprocess  # noqa: F401

        import berth.runc.hooks  # noqa: F401
    if os.environ.get("BERTH_RUNC_DEBUG"):
        import traceback  # noqa: F401


def _write_oom_score(proc: dict[str, Any]) -> None:
    if proc.get("oomScoreAdj") is not None:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(proc["oomScoreAdj"]))


def _join_namespaces(nss: dict[str, str]) -> None:
    """setns into every namespace given by path; the user namespace first, as runc."""
    fds: list[tuple[str, int]] = []
    try:
        for t in sorted((t for t, p in nss.items() if p), key=lambda t: t != "user"):
            try:
                fds.append((t, os.open(nss[t], os.O_RDONLY | os.O_CLOEXEC)))
            except OSError as e:
                raise RuncError(f"failed to open {nss[t]}: {(e.strerror or '').lower()}") from None
        for t, fd in fds:
            try:
                libc.setns(fd, config.NAMESPACES[t][0])
            except OSError as e:
                raise RuncError(f"failed to setns to {nss[t]}: {(e.strerror or '').lower()}") from None
    finally:
        for _, fd in fds:
            os.close(fd)


def _build_rootfs(ctx: InitContext, nss: dict[str, str], cgroup_paths: dict[str, str],
                  linux: dict[str, Any]) -> list[tuple[str, int]]:
    spec = ctx.spec
    mounts.prepare_root(ctx.rootfs, linux.get("rootfsPropagation", ""))
    deferred: list[tuple[str, int]] = []
    bind_dev = False
    for m in spec.get("mounts") or []:
        try:
            deferred += mounts.mount_one(ctx.rootfs, m, cgroup_paths, nss.get("cgroup") == "")
        except OSError as e:
            raise RuncError(f"error mounting {m.get('source', '')!r} to rootfs at {m['destination']!r}: "
                            f"{(e.strerror or str(e)).lower()}".replace("'", '"')) from None
        if m.get("destination") == "/dev" and (m.get("type") == "bind" or "bind" in (m.get("options") or [])
                                                or "rbind" in (m.get("options") or [])):
            bind_dev = True
    if not bind_dev:
        # runc's steps and wording, so a failure says which step and which node
        for step, make in (("error creating device nodes",
                            lambda: mounts.create_devices(ctx.rootfs, linux.get("devices") or [], bind="user" in nss)),
                           ("error setting up ptmx", lambda: mounts.setup_ptmx(ctx.rootfs)),
                           ("error setting up /dev symlinks", lambda: mounts.dev_links(ctx.rootfs))):
            try:
                make()
            except (RuncError, OSError) as e:
                raise RuncError(f"{step}: {error_text(e)}") from None
    prop = linux.get("rootfsPropagation")
    if prop in mounts.PROPAGATION:
        libc.mount(None, ctx.rootfs, None, mounts.PROPAGATION[prop])
    return deferred


def _setup_console(ctx: InitContext, proc: dict[str, Any]) -> None:
    from berth.runc import console

    master, slave = console.open_pty()
    console.set_size(master, proc.get("consoleSize"))
    if not os.path.lexists("/dev/console"):
        os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    libc.mount(slave, "/dev/console", None, libc.MS_BIND)
    console.send_master(ctx.console, master, "/dev/ptmx")  # the name runc sends
    os.close(master)
    ctx.console.close()
    console.become_tty(slave)


def _home_of(uid: int) -> str:
    """The user's home in the container's /etc/passwd, else "/" (runc's HOME). Read as
    bytes with plain os calls: a text file's set-up was ~0.1 ms of every exec's child."""
    try:
        fd = os.open("/etc/passwd", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return "/"
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError:
        return "/"
    finally:
        os.close(fd)
    want = str(uid).encode()
    for line in b"".join(chunks).split(b"\n"):
        parts = line.rstrip(b"\r").split(b":")
        if len(parts) >= 6 and parts[2] == want:
            return os.fsdecode(parts[5]) or "/"
    return "/"


def _run_hooks(hooks: dict[str, Any], name: str, state: dict[str, Any], *,
               env: dict[str, str], cwd: str | None = None) -> None:
    if hooks.get(name):
        from berth.runc.hooks import run_hooks

        run_hooks(hooks, name, state, env=env, cwd=cwd)
