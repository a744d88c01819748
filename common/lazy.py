"""A module imported on first use: for heavy dependencies a daemon needs only for
some requests (httpx for registries), so an idle daemon does not hold them.

Only attribute access loads it; `except lazy.Error` is evaluated only when an
exception is being matched, and annotations are strings (`from __future__ import
annotations`), so neither loads it early.  importlib's module locks make the first
load safe from several threads at once.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


def module(name: str) -> Any:
    """A stand-in for `import name` that imports it when an attribute is first read."""
    return LazyModule(name)
