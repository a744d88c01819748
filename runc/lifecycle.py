"""The verbs on an existing container: start, state, kill, delete, ps, pause, resume, update."""

from __future__ import annotations

import os
import select
import signal as _signal
import time

from berth.runc import record as st
from berth.runc.debug import debug
from berth.runc.errors import RuncError

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any, Callable


def parse_signal(sig: int | str) -> int:
    """runc's signal grammar: a number, or a name with or without SIG."""
    if isinstance(sig, int):
        return sig
    text = sig.strip()
    if text.isdigit():
        return int(text)
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    value = getattr(_signal.Signals, name, None) if name in _signal.Signals.__members__ else None
    if value is None:
        raise RuncError(f'unknown signal "{sig}"')
    return int(value)


def _manager(rec: st.Record) -> Any:
    if not rec.cgroup_paths:
        return None
    try:
        from berth.runc import cgroups
    except ImportError:
        return None
    opener = getattr(cgroups, "open_manager_from_paths", None)
    return opener(rec.cgroup_paths) if opener else None


def state(root: str, container_id: str) -> dict[str, Any]:
    return st.oci_state(root, st.load(root, container_id))


def list_containers(root: str) -> list[dict[str, Any]]:
    out = []
    for cid in st.list_ids(root):
        try:
            rec = st.load(root, cid)
        except RuncError:
            continue
        out.append(st.oci_state(root, rec, with_owner=True))
    return out


def start(root: str, container_id: str) -> None:
    """Open exec.fifo for reading: that lets the blocked init through to execve."""
    rec = st.load(root, container_id)
    status = st.status(root, rec)
    if status == "stopped":
        raise RuncError("cannot start a container that has stopped")
    if status != "created":
        raise RuncError("cannot start an already running container")
    fifo = os.path.join(root, container_id, st.EXEC_FIFO)
    try:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise RuncError("cannot start an already running container") from None
    try:
        data = _read_fifo(fd, rec)
    finally:
        os.close(fd)
    if data != b"0":
        raise RuncError("cannot start a container that has stopped")
    try:
        os.unlink(fifo)
        debug("start: exec.fifo read, the init goes on to execve", pid=rec.pid)
    except FileNotFoundError:
        pass


def _read_fifo(fd: int, rec: st.Record) -> bytes:
    """Wait for the init's byte; give up if the init dies instead of writing it."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    while True:
        if poller.poll(100):
            try:
                data = os.read(fd, 1)
            except BlockingIOError:
                data = b""
            if data:
                return data
        if not st.init_alive(rec):
            return b""


def kill(root: str, container_id: str, signal: int | str = "SIGTERM", all: bool = False) -> None:
    rec = st.load(root, container_id)  # runc looks the container up before it reads the signal
    sig = parse_signal(signal)
    stopped = st.status(root, rec) == "stopped"
    if all:
        # As runc: --all is no error on a stopped container; whatever its cgroup still
        # holds (children that outlived an init without a pid namespace) is signalled.
        try:
            _signal_all(rec, sig)
        except Exception:  # noqa: BLE001 - a stopped container's cgroup may be half gone
            if not stopped:
                raise
        return
    if stopped:
        raise RuncError("container not running")
    try:
        debug("kill: sending signal", pid=rec.pid, signal=sig)
        os.kill(rec.pid, sig)
    except ProcessLookupError:
        raise RuncError("container not running") from None


def _signal_all(rec: st.Record, sig: int) -> None:
    mgr = _manager(rec)
    if mgr is not None:
        mgr.kill_all(sig)  # frozen while signalled, so no fork escapes
        return
    for pid in _pids_in_pidns(rec):
        _kill_quiet(pid, sig)


def _kill_quiet(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def ps_of(rec: st.Record) -> list[int]:
    mgr = _manager(rec)
    if mgr is not None:
        return sorted(mgr.pids())
    return _pids_in_pidns(rec)


def _pids_in_pidns(rec: st.Record) -> list[int]:
    """Without a cgroup manager: every process in the init's pid namespace."""
    if not st.init_alive(rec):
        return []
    try:
        target = os.stat(f"/proc/{rec.pid}/ns/pid").st_ino
    except OSError:
        return []
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}/ns/pid").st_ino == target:
                    pids.append(int(name))
            except OSError:
                continue
    return sorted(pids)


def ps(root: str, container_id: str) -> list[int]:
    rec = st.load(root, container_id)
    return ps_of(rec)


def delete(root: str, container_id: str, force: bool = False) -> None:
    rec = st.load(root, container_id)
    status = st.status(root, rec)
    if status in ("running", "paused") and not force:
        raise RuncError(f"cannot delete container {container_id} that is not stopped: {status}")
    if status != "stopped":
        mgr = _manager(rec)
        if status == "paused" and mgr is not None:
            mgr.thaw()
        for pid in [rec.pid, *ps_of(rec)]:
            _kill_quiet(pid, _signal.SIGKILL)
        _wait_gone(rec)
    debug("delete: removing cgroup and state", status=status)
    _destroy(root, rec)


def _wait_gone(rec: st.Record) -> None:
    """Poll until the init is gone or a zombie; never reap it: its exit status belongs to
    its parent (the shim), which may be the process calling us."""
    while st.init_alive(rec):
        time.sleep(0.001)


def _destroy(root: str, rec: st.Record) -> None:
    mgr = _manager(rec)
    if mgr is not None:
        for pid in mgr.pids():  # without a pid namespace, children survive their init
            _kill_quiet(pid, _signal.SIGKILL)
        for _ in range(500):
            try:
                mgr.destroy()
                break
            except OSError:
                time.sleep(0.002)
    hooks = (rec.config or {}).get("hooks") or {}
    if hooks.get("poststop"):
        from berth.runc.hooks import run_hooks

        try:
            run_hooks(hooks, "poststop", {**st.oci_state(root, rec), "status": "stopped"})
        except RuncError:
            pass  # runc only warns about a failing poststop hook
    st.remove_dir(os.path.join(root, rec.id))


def pause(root: str, container_id: str) -> None:
    rec = st.load(root, container_id)
    if st.status(root, rec) not in ("running", "created"):
        raise RuncError("container not running")
    mgr = _manager(rec)
    if mgr is None:
        raise RuncError("pause is not supported without a cgroup freezer")
    mgr.freeze()
    rec.paused = True
    st.save(root, rec)


def resume(root: str, container_id: str) -> None:
    rec = st.load(root, container_id)
    if st.status(root, rec) != "paused":
        raise RuncError("container not paused")
    mgr = _manager(rec)
    if mgr is not None:
        mgr.thaw()
    rec.paused = False
    st.save(root, rec)


def update(root: str, container_id: str, resources: dict[str, Any],
           warn: Callable[[str], None] | None = None) -> None:
    """Merge `resources` into the container's (see merge_resources) and set them all, as runc does.

    runc sets the whole merged configuration, where 0 leaves a file as it is. On
    failure it sets the same configuration once more (its "set back" works on the
    merged copy) and warns when that fails too.
    """
    rec = st.load(root, container_id)
    if st.status(root, rec) == "stopped":
        raise RuncError("container not running")
    mgr = _manager(rec)
    if mgr is None:
        raise RuncError("update is not supported without cgroups")
    linux = rec.config.setdefault("linux", {})
    devices = _device_rules(mgr, linux, resources.get("devices"), warn)
    merged = merge_resources(linux.get("resources") or {}, {**resources, "devices": None})
    to_set = {k: v for k, v in merged.items() if k != "devices"}
    if devices is not None:
        to_set["devices"] = devices
        merged["devices"] = resources["devices"]
    try:
        mgr.set(to_set)
    except Exception as first:
        try:
            mgr.set(to_set)
        except Exception as again:  # noqa: BLE001 - reported as runc reports it, then the first error
            if warn is not None:
                from berth.runc import _one_line

                warn(f"Setting back cgroup configs failed due to error: {_one_line(again)}, "
                     "your state.json and actual configs might be inconsistent.")
        raise first
    linux["resources"] = merged
    st.save(root, rec)


def _device_rules(mgr: Any, linux: dict[str, Any], rules: list[dict[str, Any]] | None,
                  warn: Callable[[str], None] | None) -> list[dict[str, Any]] | None:
    """The rules to program for an update's devices, or None to leave the device cgroup as it is.

    runc's update never touches the device cgroup (SkipDevices) and so takes any rules;
    we apply them: they replace the spec's own, the ones runc adds (default nodes,
    linux.devices) stay after them, as at create, and the cgroup moves to them by the
    fewest writes (devices_v1). Rules the v1 controller cannot hold (a hole in a
    wildcard rule) or that are malformed are left out, with a warning, as runc would
    leave them: the rest of the update still applies.
    """
    if rules is None:
        return None
    from berth.runc.cgroups import effective_resources
    from berth.runc.cgroups._fs import CgroupError
    from berth.runc.cgroups.v1 import V1Manager

    full = effective_resources({**linux, "resources": {"devices": rules}})["devices"]
    try:
        if isinstance(mgr, V1Manager):
            from berth.runc.cgroups.devices_v1 import from_rules

            from_rules(full)
        else:
            from berth.runc.cgroups.ebpf import device_program

            device_program(full)  # builds the program only; the kernel sees it in set()
    except (CgroupError, ValueError, TypeError, KeyError) as e:
        if warn is not None:
            warn(f"device rules left unchanged: {e}")
        return None
    return full


# What runc's update takes from its flags or -r JSON (the rest of the JSON it ignores),
# and what "not given" is: 0 or "", which the cgroup drivers read as "leave as is".
_UPDATABLE = {"memory": ("limit", "reservation", "swap"),
              "cpu": ("shares", "realtimeRuntime", "realtimePeriod", "cpus", "mems"),
              "blockIO": ("weight",), "pids": ("limit",)}


def merge_resources(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The container's resources after runc's update: each updatable field is the new one (0 if not given).

    Quota and period are the exception: one given alone keeps the other's old value, so
    that both reach cpu.max together on cgroup v2 (runc: "setting CPU quota and period
    independently does not make much sense").
    """
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in old.items()}
    for section, fields in _UPDATABLE.items():
        given = new.get(section) or {}
        target = out.setdefault(section, {})
        for field in fields:
            target[field] = given.get(field) or ("" if field in ("cpus", "mems") else 0)
    cpu_new, cpu = new.get("cpu") or {}, out["cpu"]
    period, quota = cpu_new.get("period") or 0, cpu_new.get("quota") or 0
    if bool(period) == bool(quota):
        cpu["period"], cpu["quota"] = period, quota
    elif period:
        cpu["period"] = period
    else:
        cpu["quota"] = quota
    if new.get("unified") is not None or "unified" in out:
        out["unified"] = new.get("unified")
    if new.get("devices") is not None:
        out["devices"] = new["devices"]
    return out


def stats(root: str, container_id: str) -> dict[str, Any]:
    rec = st.load(root, container_id)
    if st.status(root, rec) == "stopped":
        raise RuncError("container not running")
    mgr = _manager(rec)
    return mgr.stats() if mgr is not None else {}
