"""--debug: runc's `level=debug` lines at the runtime's own steps.

The library calls debug() at the points worth seeing; nothing is written unless the
command line (cli.py) installs a sink for --debug, so the library stays quiet and
this costs one attribute test per call.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any, Callable

sink: Callable[[str, dict[str, Any]], None] | None = None


def debug(msg: str, **fields: Any) -> None:
    """One debug line, with logrus-style fields (`pid=12 status=0`) after the message."""
    if sink is not None:
        sink(msg, fields)
