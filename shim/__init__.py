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
    import importlib
    import pkgutil

    import berth.runc
    import berth.shim.service  # noqa: F401
    from berth.shim import runtime

    # Every module of the runtime: its verbs import theirs lazily (the CLI's start-up),
    # and they now run in a child the shim forks per call (shim/runtime.py), whose
    # imports are lost when it exits: each call would import them again (exec runs in
    # the shim itself, and its process is forked with nothing left to import).
    for mod in pkgutil.walk_packages(berth.runc.__path__, "berth.runc."):
        if mod.name not in ("berth.runc.cli", "berth.runc.prewarm"):
            importlib.import_module(mod.name)

    for verb in ("create", "start", "kill", "delete", "ps", "exec_process"):
        try:
            runtime._verb(verb)
        except runtime.RuntimeFailure:
            pass  # berth.runc without that verb yet: the shim reports it when used
