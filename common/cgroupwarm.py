"""Start the cgroup migration lock's RCU grace period when an exec is announced.

Every write to a cgroup.procs file (a migration: the runtime joining an exec'd process
to its container's cgroup) takes cgroup_threadgroup_rwsem for write (kernel/cgroup/
cgroup.c: cgroup_procs_write_start → cgroup_attach_lock → percpu_down_write). The write
side of a percpu rwsem first calls rcu_sync_enter (kernel/rcu/sync.c, include/linux/
rcu_sync.h): when the rcu_sync is idle (GP_IDLE: no writer during the last grace period)
it starts one and sleeps until it has passed (~5-15 ms here), so that every reader, the
fork and exit of every process on the host, moves to the slow path first. After the
writer's rcu_sync_exit the state stays "passed" (GP_EXIT/GP_REPLAY) for at least one more
grace period, and a writer then waits for nothing (~0.02 ms); one that comes while a
grace period is under way waits only for its rest. `docker exec`s some 50 ms apart
find it idle every time, and runc's exec pays it as ours did.

So berthd announces the exec at a running container's GET /containers/{id}/json (which
`docker exec` sends first, right after its ping: a grace period here is up to ~15 ms under
load, longer than exec create is ahead of the join) and at POST /containers/{id}/exec
(every exec of its API, health probes too; berth-containerd's Exec does not do it again,
one migration is enough), and a worker thread makes a migration that changes nothing:
this process's own pid written to its own cgroup's cgroup.procs, in one hierarchy (cgroup
v1; the v2 file on a v2-only host takes the same lock). The grace period then runs while the
request travels to the shim, and the child's join a few ms later waits only for its rest.
Nothing runs when no exec is announced; a failure (no cgroupfs, no permission) is ignored.
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger("berth.cgroupwarm")

_wanted = threading.Event()
_started = threading.Lock()
_worker: threading.Thread | None = None


def announce() -> None:
    """An exec's process will join a cgroup soon: start the grace period now. Returns at
    once (an Event's set, and the worker thread's start the first time); never raises."""
    global _worker
    _wanted.set()
    if _worker is None:
        with _started:
            if _worker is None:
                _worker = threading.Thread(target=_serve, name="cgroup-warm", daemon=True)
                _worker.start()


def _serve() -> None:
    path = None
    while True:
        _wanted.wait()
        _wanted.clear()  # announces during the write ask for one more: the state stays warm
        try:
            if path is None:
                path = _own_procs_file()
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, str(os.getpid()).encode())
            finally:
                os.close(fd)
        except (OSError, ValueError) as e:
            log.debug("cgroup warm-up off: %s", e)
            return  # the same failure at every exec: stay quiet and idle (announce only sets)


def _own_procs_file() -> str:
    """cgroup.procs of this process's own cgroup, in the first hierarchy that shows it."""
    from berth.runc.cgroups._proc import UNIFIED, locate

    paths = locate()
    for name in sorted(paths, key=lambda n: n == UNIFIED):  # v1 first: the hierarchies runc joins first
        procs = os.path.join(paths[name], "cgroup.procs")
        if os.path.exists(procs):
            return procs
    raise OSError("no cgroup.procs of our own cgroup")
