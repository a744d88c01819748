"""berth-shim: one per container; holds its stdio, writes its log, records its exit.

spawn() is what berth-containerd's fork server calls; client.call() is how it talks
to a running shim afterwards.  Both are cheap to import (no heavy dependencies).
"""

from berth.shim.options import RUNTIME_LIBRARY, ShimError, ShimOptions, ShimProcess
from berth.shim.spawn import spawn

__all__ = ["RUNTIME_LIBRARY", "ShimError", "ShimOptions", "ShimProcess", "preload", "spawn"]


def preload() -> None:
    """Import now what a forked shim needs, so each spawn from this process pays nothing for it.

    For a fork server: call once before serving (it starts no threads).
    """
    import berth.shim.service  # noqa: F401
    from berth.runc.cgroups import open_manager_from_paths  # noqa: F401 - the shim's own stats reads
    from berth.runc.cgroups import _stats, manager, stats_v1, v1, v2  # noqa: F401 - the managers it opens
    from berth.shim import runtime

    for verb in ("create", "start", "kill", "delete", "ps", "exec_process"):
        try:
            runtime._verb(verb)
        except runtime.RuntimeFailure:
            pass  # berth.runc without that verb yet: the shim reports it when used
