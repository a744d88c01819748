"""`create` and `run`: the runtime's side of starting a container.

create forks the init (see init.py), answers its requests (uid/gid maps,
cgroup placement, prestart/createRuntime hooks), and records the container
once the init is blocked on exec.fifo. On any failure it removes everything it
made: the init, the cgroup, the state directory.
"""

from __future__ import annotations

import os
import signal

from berth.runc import _one_line, config, record as st
from berth.runc.debug import debug
from berth.runc.errors import RuncError
from berth.runc.sync import Channel, channel_pair

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any


def _cgroups() -> Any:
    """berth.runc.cgroups, imported on first use (it is not needed by state, kill, ...)."""
    from berth.runc import cgroups

    return cgroups


def compile_seccomp(spec: dict[str, Any], root: str | None = None) -> Any:
    """The container's filter; with a root, compiled once per distinct profile (seccomp_cache)."""
    sec = (spec.get("linux") or {}).get("seccomp")
    if not sec:
        return None
    from berth.runc import seccomp

    try:
        if root is not None:
            from berth.runc import seccomp_cache

            return seccomp_cache.compiled(sec, root)
        return seccomp.compile_filter(sec)
    except RuncError:
        raise
    except Exception as e:  # noqa: BLE001 - a bad profile is a create error, one line
        raise RuncError(f"unable to compile seccomp profile: {e}") from None


def create(root: str, container_id: str, bundle: str, console_socket: str | None = None,
           pid_file: str | None = None, no_pivot: bool = False,
           stdio: tuple[int, int, int] | None = None, *, detach: bool = True, preserve_fds: int = 0) -> int:
    """Create the container; returns the host pid of its init, blocked before execve."""
    st.validate_id(container_id)
    bundle, spec, rootfs = config.load_bundle(bundle)
    proc = spec["process"]
    if proc.get("terminal") and console_socket is None and detach:
        raise RuncError("cannot allocate tty if runc will detach without setting console socket")
    if not proc.get("terminal") and console_socket is not None:
        raise RuncError("cannot use console socket if runc will not detach or allocate tty")
    os.makedirs(root, 0o711, exist_ok=True)
    cdir = st.container_dir(root, container_id)
    try:
        os.mkdir(cdir, 0o711)
    except FileExistsError:
        raise RuncError("container with given ID already exists") from None
    creator = _Creator(root, container_id, bundle, spec, rootfs, cdir)
    try:
        return creator.run(console_socket, pid_file, no_pivot, stdio, preserve_fds)
    except BaseException:
        creator.cleanup()
        raise


class _Creator:
    """The state of one create in progress, so a failure can undo exactly what was done."""

    def __init__(self, root: str, cid: str, bundle: str, spec: dict[str, Any], rootfs: str, cdir: str) -> None:
        self.root, self.cid, self.bundle, self.spec, self.rootfs, self.cdir = root, cid, bundle, spec, rootfs, cdir
        self.manager: Any = None
        self.placed = False
        self.child = 0
        self.init_pid = 0

    def run(self, console_socket: str | None, pid_file: str | None, no_pivot: bool,
            stdio: tuple[int, int, int] | None, preserve_fds: int = 0) -> int:
        from berth.common.timefmt import rfc3339_nano
        from berth.runc.init import InitContext, child_main

        spec = self.spec
        linux = spec.get("linux") or {}
        created = _go_time(rfc3339_nano())
        fifo = os.path.join(self.cdir, st.EXEC_FIFO)
        os.mkfifo(fifo, 0o622)
        os.chmod(fifo, 0o622)  # past the umask: a non-root init must be able to open it
        fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
        manager = _cgroups().open_manager(linux.get("cgroupsPath", ""), self.cid)
        if manager.is_frozen():
            # An init placed there would freeze before it could report; runc refuses, and
            # leaves the cgroup alone (so it is not yet ours to remove on cleanup).
            raise RuncError("container's cgroup unexpectedly frozen")
        self.manager = manager
        self.manager.create()
        seccomp = compile_seccomp(spec, self.root)
        console = None
        if console_socket is not None:
            from berth.runc.console import connect

            console = connect(console_socket)
        ctx = InitContext(spec=spec, rootfs=self.rootfs, fifo_fd=fifo_fd, no_pivot=no_pivot,
                          stdio=stdio, console=console, seccomp=seccomp)
        ctx.cgroup_paths = self.manager.paths() if self.manager is not None else {}
        ctx.preserve_fds = preserve_fds
        parent_chan, child_chan = channel_pair()
        nss = config.namespaces(spec)
        # Fast path: make the pid namespace here so the init is our direct child and
        # pid 1 without a second fork; with a user namespace the pid namespace must
        # belong to it, so the child makes both (and forks again).
        ctx.pid_ns_made = nss.get("pid") == "" and "user" not in nss
        from berth.runc.nodump import Forking

        with Forking():  # the init is never dumpable before its execve (CVE-2019-5736)
            self.child = _fork_in_new_pidns() if ctx.pid_ns_made else os.fork()
        if self.child == 0:  # pragma: no cover - runs in the child
            try:
                parent_chan.close()
                child_main(ctx, child_chan)
            finally:
                os._exit(1)
        debug("init forked", pid=self.child)
        child_chan.close()
        os.close(fifo_fd)
        if console is not None:
            console.close()
        chan = parent_chan
        # Every limit, device rules included, goes into the cgroup while it is still
        # empty (the child builds its rootfs in ours meanwhile): the init joins a
        # cgroup that already says what it may do, so no rule is ever half-written
        # under it (a deny-all before its allows would fail the init's mknods).
        self._configure()
        if ctx.pid_ns_made:
            # The child is already the init: place it now, while it builds its rootfs.
            # The first cgroup.procs write waits for an RCU grace period (~10-16 ms on
            # cgroup v1), which this overlaps with the child's own work.
            self._place(self.child)
        try:
            base_state = self._talk(chan)
        finally:
            chan.close()
        rec = st.Record(id=self.cid, bundle=self.bundle, rootfs=self.rootfs, created=created,
                        pid=self.init_pid, annotations=spec.get("annotations") or {}, config=spec)
        stat = st.proc_stat(self.init_pid)
        if stat is None or stat[0] == "Z":
            raise RuncError("container init exited prematurely")
        rec.start_time = stat[1]
        rec.namespaces = {t: (p or f"/proc/{self.init_pid}/ns/{config.NAMESPACES[t][1]}")
                          for t, p in config.namespaces(spec).items()}
        if self.manager is not None:
            rec.cgroup_paths = self.manager.paths()
        st.save(self.root, rec)
        if self.child != self.init_pid:
            _reap_if_child(self.child)  # the intermediate process (a SIGCHLD handler may beat us to it)
        if pid_file:
            _write_pid_file(pid_file, self.init_pid)
        hooks = spec.get("hooks") or {}
        if hooks.get("poststart"):
            # runc 1.1 runs poststart at the end of create, while the container is "created"
            from berth.runc.hooks import run_hooks

            run_hooks(hooks, "poststart", {**base_state, "status": "created"}, cwd=self.bundle)
        return self.init_pid

    def _talk(self, chan: Channel) -> dict[str, Any]:
        """Answer the init until it closes its end after `ready`."""
        base: dict[str, Any] = {}
        ready = False
        while True:
            msg = chan.recv()
            if msg is None:
                if ready:
                    return base
                raise RuncError("container init exited prematurely")
            kind = msg["type"]
            if kind == "error":
                # runc's words: what fails before the init is ready is "during container init"
                during = "" if ready else "error during container init: "
                raise RuncError("unable to start container process: " + during + msg["msg"])
            if kind == "userns":
                debug("init: writing uid/gid maps", pid=self.child)
                self._write_maps(self.child)
                chan.send("ack")
            elif kind == "pid":
                self.init_pid = msg["pid"] or self.child
                debug("init: placing in its cgroup", pid=self.init_pid)
                if not self.placed:
                    self._place(self.init_pid)
                base = {"ociVersion": st.OCI_VERSION, "id": self.cid, "status": "creating",
                        "pid": self.init_pid, "bundle": self.bundle}
                if self.spec.get("annotations"):
                    base["annotations"] = self.spec["annotations"]
                paths = self.manager.paths() if self.manager is not None else {}
                chan.send("cgroup", paths=paths, state=base)
            elif kind == "hooks":
                debug("running prestart and createRuntime hooks")
                from berth.runc.hooks import run_hooks

                hooks = self.spec.get("hooks") or {}
                try:
                    run_hooks(hooks, "prestart", base, cwd=self.bundle)  # runc runs in the bundle
                    run_hooks(hooks, "createRuntime", base, cwd=self.bundle)
                except RuncError as e:
                    raise RuncError(f"unable to start container process: error during container init: {e}") from None
                chan.send("ack")
            elif kind == "ready":
                debug("init: ready, blocked on exec.fifo until start", pid=self.init_pid)
                ready = True

    def _configure(self) -> None:
        """Write the spec's resources (and the device rules runc adds) to the cgroup, before anyone joins."""
        if self.manager is None:
            return
        cg = _cgroups()
        try:
            self.manager.set(cg.effective_resources(self.spec.get("linux") or {}))
        except (cg.CgroupError, OSError, ValueError) as e:
            raise RuncError("unable to start container process: error during container init: "
                            f"error setting cgroup config for procHooks process: {_one_line(e)}") from None

    def _place(self, pid: int) -> None:
        """Move the init into its cgroup, configured already by _configure."""
        if self.manager is not None:
            cg = _cgroups()
            try:
                self.manager.apply(pid)
            except (cg.CgroupError, OSError) as e:
                raise RuncError("unable to start container process: unable to apply cgroup configuration: "
                                + _one_line(e)) from None
        self.placed = True

    def _write_maps(self, pid: int) -> None:
        linux = self.spec.get("linux") or {}
        for name, key in (("uid_map", "uidMappings"), ("gid_map", "gidMappings")):
            lines = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in linux.get(key) or [])
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(lines)

    def cleanup(self) -> None:
        for pid in {self.init_pid, self.child} - {0}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.child:
            try:
                os.waitpid(self.child, 0)
            except ChildProcessError:
                pass
        if self.init_pid and self.init_pid != self.child:
            _reap_if_child(self.init_pid)
        if self.manager is not None:
            try:
                self.manager.destroy()
            except Exception:  # noqa: BLE001 - best effort, the original error matters
                pass
        st.remove_dir(self.cdir)


def _go_time(text: str) -> str:
    """Go's RFC3339Nano drops trailing zeros of the fraction; runc's `created` does too."""
    base, _, frac = text.rstrip("Z").partition(".")
    frac = frac.rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def _fork_in_new_pidns() -> int:
    """fork() with the child in a new pid namespace, leaving ours as it was."""
    from berth.runc import libc

    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        libc.unshare(libc.CLONE_NEWPID)
        pid = os.fork()
        if pid == 0:
            return 0
        return pid
    finally:
        if os.getpid() != 1:  # the parent: pid_for_children back to our own namespace
            libc.setns(own, libc.CLONE_NEWPID)
        os.close(own)


def _reap_if_child(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _write_pid_file(path: str, pid: int) -> None:
    st.write_replace(os.path.abspath(path), str(pid).encode())


def run(root: str, container_id: str, bundle: str, console_socket: str | None = None,
        pid_file: str | None = None, no_pivot: bool = False, detach: bool = False,
        stdio: tuple[int, int, int] | None = None, *, keep: bool = False, preserve_fds: int = 0) -> int:
    """create + start; in the foreground, wait, forward signals, delete, return the exit status."""
    from berth.runc import foreground, libc, lifecycle

    console = None
    if not detach:
        libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)  # so the init is our child to wait for
        if console_socket is None and config.load_bundle(bundle)[1]["process"].get("terminal"):
            console = foreground.Console()  # runc run without -d: we hold the pty ourselves
            console_socket = console.address
    try:
        pid = create(root, container_id, bundle, console_socket, pid_file, no_pivot, stdio, detach=detach,
                     preserve_fds=preserve_fds)
        if console is not None:
            console.receive()
    except BaseException:
        if console is not None:
            console.close()
        raise
    try:
        lifecycle.start(root, container_id)
    except BaseException:
        lifecycle.delete(root, container_id, force=True)
        raise
    if detach:
        return 0
    return foreground.wait(root, container_id, pid, console, keep=keep)


