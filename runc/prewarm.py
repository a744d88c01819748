"""Start a slow kernel wait early, in a helper, while the CLI is still importing.

Only `os` is imported here: this runs before anything else in `berth-runc create|run`.
"""

from __future__ import annotations

import os


def prewarm_cgroup_migration() -> int:
    """Fork a helper that re-writes itself into its own cgroup; returns its pid (0: none).

    The first cgroup.procs write after a quiet spell waits for an RCU grace period
    (10-16 ms here: the kernel's cgroup_threadgroup_rwsem leaves its reader fast
    path). runc pays it too. A fresh `berth-runc create` can start that wait in a
    helper at once and overlap it with its own imports and parsing; the real
    placement of the init then finds the lock already switched. The helper's write
    changes nothing: it moves itself to the cgroup it is in.
    """
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return 0
    target = ""
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "pids" or (controllers == "" and not target):
            mount = "/sys/fs/cgroup/pids" if controllers == "pids" else "/sys/fs/cgroup"
            target = os.path.join(mount, path.lstrip("/"), "cgroup.procs")
    if not target or not os.path.exists(target):
        return 0
    try:
        pid = os.fork()
    except OSError:  # e.g. pids.max reached: then the optimisation is simply skipped
        return 0
    if pid == 0:
        try:
            with open(target, "w") as f:
                f.write("0")  # "0" is the writer itself
        finally:
            os._exit(0)
    return pid
