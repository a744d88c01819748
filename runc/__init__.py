"""berth-runc: an OCI runtime with runc's verbs, usable as a library and a CLI.

The verbs are imported lazily so that `berth-runc state` does not pay for the code
of `create`.
"""

from __future__ import annotations

from berth.runc.errors import RuncError

TYPE_CHECKING = False  # importing typing costs ~2 ms of every CLI start
if TYPE_CHECKING:
    from typing import Any

__all__ = ["create", "start", "run", "state", "kill", "delete", "ps", "exec_process",
           "pause", "resume", "update", "list_containers", "RuncError"]

_WHERE = {
    "create": "berth.runc.launch", "run": "berth.runc.launch",
    "start": "berth.runc.lifecycle", "state": "berth.runc.lifecycle", "kill": "berth.runc.lifecycle",
    "delete": "berth.runc.lifecycle", "ps": "berth.runc.lifecycle", "pause": "berth.runc.lifecycle",
    "resume": "berth.runc.lifecycle", "update": "berth.runc.lifecycle",
    "list_containers": "berth.runc.lifecycle",
    "exec_process": "berth.runc.execproc",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        func = _one_error_type(getattr(importlib.import_module(_WHERE[name]), name))
        globals()[name] = func
        return func
    raise AttributeError(name)


def _one_error_type(func: Any) -> Any:
    """The library promises RuncError for every failure: convert what lower layers raise."""
    import functools

    @functools.wraps(func)
    def verb(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RuncError:
            raise
        except (OSError, ValueError, LookupError) as e:
            raise RuncError(_one_line(e)) from e
        except Exception as e:  # e.g. cgroups.CgroupError
            if type(e).__name__.endswith("Error"):
                raise RuncError(_one_line(e)) from e
            raise

    return verb


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        text = e.strerror.lower()
        return f"{e.filename}: {text}" if e.filename else text
    return " ".join(str(e).split()) or type(e).__name__
