"""HostConfig's namespace modes, as dockerd honours them: PidMode (`host`, `container:X`),
IpcMode (`private`, `shareable`, `host`, `container:X`, `none`) with ShmSize, UTSMode
(`host`) and CgroupnsMode (`private`, `host`).

The OCI spec is made at create, but the namespaces of another container exist only while it
runs; so the spec names a path of this container's own, `<exec-root>/namespaces/<id>/pid|ipc`,
and at each start berthd bind-mounts the donor's /proc/PID/ns file there (as it does for
`--network container:X`), kept until the exit (exec joins the same path). A `shareable`
container's /dev/shm is a tmpfs berthd mounts at `<exec-root>/namespaces/<id>/shm` at start
(dockerd's ShmPath); a `container:X` one gets X's bound at its own `shm`. All of it is
unmounted at the exit, or when the start fails.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any, Callable

from ..http.errors import ApiError, bad_request
from ..kernel import cgroup_v2
from ..libcontainerd import ContainerdError
from ..network import netns
from ..volumes import sysmount

if TYPE_CHECKING:
    from ..config import Config
    from .service import Engine
    from .store import Container

DEFAULT_SHM_SIZE = 64 * 1024 * 1024  # dockerd's config.DefaultShmSize
_IPC_MODES = ("", "private", "shareable", "host", "none")


def _container_ref(mode: str) -> str:
    return mode.split(":", 1)[1] if mode.startswith("container:") else ""


def check(config: dict[str, Any], host: dict[str, Any]) -> None:
    """dockerd's refusals of the modes (ValueError, its words: a 400), before anything is made."""
    ipc, pid = host.get("IpcMode") or "", host.get("PidMode") or ""
    if not (ipc in _IPC_MODES or _container_ref(ipc)):
        raise ValueError(f"invalid IPC mode: {ipc}")
    if not (pid in ("", "host") or _container_ref(pid)):
        raise ValueError(f"invalid PID mode: {pid}")
    shm = host.get("ShmSize")
    if isinstance(shm, int) and shm < 0:
        raise ValueError("SHM size can not be less than 0")
    uts = host.get("UTSMode") or ""
    if uts not in ("", "host"):
        raise ValueError(f"invalid UTS mode: {uts}")
    if uts == "host" and config.get("Hostname"):
        raise ValueError("conflicting options: hostname and the UTS mode")
    if uts == "host" and config.get("Domainname"):
        raise ValueError("conflicting options: domainname and the UTS mode")  # berth's words: runc would fail
    cgroupns = host.get("CgroupnsMode") or ""
    if cgroupns not in ("", "private", "host"):
        raise ValueError(f"invalid cgroup namespace mode: {cgroupns}")
    if cgroupns == "private" and not os.path.exists("/proc/self/ns/cgroup"):
        raise ValueError("Your kernel does not support cgroup namespaces: cgroup namespace mode private "
                         "cannot be honoured")


def fill(host: dict[str, Any], lookup: Callable[[str], str | None]) -> None:
    """As dockerd stores them (adaptContainerSettings): the defaults written in, and
    `container:NAME` made `container:ID` (a rename keeps the link); a NAME that `lookup`
    does not know is dockerd's 400 at create."""
    if not host.get("ShmSize"):
        host["ShmSize"] = DEFAULT_SHM_SIZE
    host["IpcMode"] = host.get("IpcMode") or "private"  # dockerd's default-ipc-mode
    if not host.get("CgroupnsMode"):
        host["CgroupnsMode"] = "private" if cgroup_v2() else "host"
    for key in ("PidMode", "IpcMode"):
        ref = _container_ref(host.get(key) or "")
        if ref:
            cid = lookup(ref)
            if not cid:
                raise bad_request(f"No such container: {ref}")
            host[key] = "container:" + cid


def pin_dir(config: Config, cid: str) -> str:
    return os.path.join(config.exec_root, "namespaces", cid)


def adjust_spec(oci: dict[str, Any], config: dict[str, Any], host: dict[str, Any], pins: str) -> None:
    """The spec's pid, ipc, uts and cgroup namespaces and its /dev/shm, from the modes; the
    domain name (Config.Domainname) in the container's own UTS namespace."""
    if config.get("Domainname"):
        oci["domainname"] = config["Domainname"]
    linux = oci["linux"]
    spaces = {ns["type"]: ns for ns in linux["namespaces"]}
    pid, ipc = host.get("PidMode") or "", host.get("IpcMode") or "private"
    if pid == "host":
        spaces.pop("pid", None)
    elif _container_ref(pid):
        spaces["pid"] = {"type": "pid", "path": os.path.join(pins, "pid")}
    if ipc == "host":
        spaces.pop("ipc", None)
    elif _container_ref(ipc):
        spaces["ipc"] = {"type": "ipc", "path": os.path.join(pins, "ipc")}
    if host.get("UTSMode") == "host":
        spaces.pop("uts", None)
        oci.pop("hostname", None)
    if host.get("CgroupnsMode") == "private":
        spaces["cgroup"] = {"type": "cgroup"}
    linux["namespaces"] = list(spaces.values())
    _shm_mount(oci, ipc, int(host.get("ShmSize") or DEFAULT_SHM_SIZE), pins)


def _shm_mount(oci: dict[str, Any], ipc: str, size: int, pins: str) -> None:
    """dockerd's: a tmpfs of ShmSize in the container (private), none (none), else a bind
    of the host's, the shareable tmpfs berthd mounts or the donor's; a user's mount at
    /dev/shm (it has replaced the default) is left alone."""
    mounts = oci["mounts"]
    at = next((i for i, m in enumerate(mounts) if m["destination"] == "/dev/shm" and m.get("source") == "shm"),
              None)
    if at is None:
        return
    if ipc == "none":
        del mounts[at]
    elif ipc == "private":
        opts = [o for o in mounts[at]["options"] if not o.startswith("size=")]
        mounts[at]["options"] = [*opts, f"size={size}"]
    else:
        source = "/dev/shm" if ipc == "host" else os.path.join(pins, "shm")
        mounts[at] = {"destination": "/dev/shm", "type": "bind", "source": source,
                      "options": ["rbind", "rprivate"]}


# ------------------------------------------------------------------ start and exit
def starting(engine: Engine, c: Container) -> None:
    """Before the task is made: the donors' namespaces and the /dev/shm to share pinned at
    this container's paths; dockerd's (20.10) words when a donor does not run or does not share,
    as a failed step of the start (ContainerdError: the start's own cleanup, --rm included, runs;
    the start answers 500, as dockerd does for these)."""
    host = c.host_config
    pid, ipc = host.get("PidMode") or "", host.get("IpcMode") or ""
    if not (_container_ref(pid) or _container_ref(ipc) or ipc == "shareable"):
        return
    pins = pin_dir(engine.config, c.id)
    stopped(engine.config, c.id)  # what a crash may have left
    try:
        if _container_ref(pid):
            ref = _container_ref(pid)
            donor = _donor(engine, ref, f"cannot join PID of a non running container: {ref}: ", "")
            netns.bind(f"/proc/{donor.state.pid}/ns/pid", os.path.join(pins, "pid"))
        if _container_ref(ipc):
            joining = f"can't join IPC of container {_container_ref(ipc)}: "
            donor = _donor(engine, _container_ref(ipc), joining, joining)
            theirs = os.path.join(pin_dir(engine.config, donor.id), "shm")
            if not netns.mounted(theirs):
                raise _failed(joining + "non-shareable IPC (hint: use IpcMode:shareable for the donor container)")
            netns.bind(f"/proc/{donor.state.pid}/ns/ipc", os.path.join(pins, "ipc"))
            _mount_dir(theirs, os.path.join(pins, "shm"))
        elif ipc == "shareable":
            _mount_shm(os.path.join(pins, "shm"), int(host.get("ShmSize") or DEFAULT_SHM_SIZE))
    except OSError as e:  # a donor gone meanwhile (/proc/PID/ns), a full disk: the start's cleanup runs
        stopped(engine.config, c.id)
        raise _failed(f"failed to join a namespace: {e}") from None
    except BaseException:
        stopped(engine.config, c.id)
        raise


def _failed(message: str) -> ContainerdError:
    return ContainerdError(500, message, "failed_precondition")


def _donor(engine: Engine, ref: str, missing: str, prefix: str) -> Container:
    """The running container whose namespace is joined (moby's getPidContainer/getIpcContainer:
    `missing` says a donor removed since the create, `prefix` goes before the state's words)."""
    try:
        other = engine.store.get(ref)
    except ApiError as e:
        raise _failed(missing + e.message) from None
    if other.state.status == "restarting":
        raise _failed(f"{prefix}Container {other.id} is restarting, wait until the container is running")
    if not other.state.running:
        raise _failed(f"{prefix}container {other.id} is not running")
    return other


def _mount_shm(path: str, size: int) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)
    sysmount.mount("shm", path, "tmpfs", sysmount.MS_NOSUID | sysmount.MS_NODEV | sysmount.MS_NOEXEC,
                   f"mode=1777,size={size}")


def _mount_dir(source: str, path: str) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)
    sysmount.mount(source, path, None, sysmount.MS_BIND | sysmount.MS_REC)


def stopped(config: Config, cid: str) -> None:
    """At the exit or a failed start: every pin and shm mount of the container, idempotent."""
    pins = pin_dir(config, cid)
    if not os.path.isdir(pins):
        return
    for name in ("pid", "ipc"):
        netns.remove(os.path.join(pins, name))
    shm = os.path.join(pins, "shm")
    while netns.mounted(shm):
        try:
            sysmount.unmount(shm)
        except OSError:
            break
    with contextlib.suppress(OSError):
        os.rmdir(shm)
    with contextlib.suppress(OSError):
        os.rmdir(pins)
