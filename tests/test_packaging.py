"""A regular `pip install` must carry every package of every component.

The components live in top-level folders mapped to berth.* by pyproject.toml, so a
new sub-package is only installed once it is listed there; editable installs
(what the tests use) would not notice.
"""

from __future__ import annotations

import os
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _folder_of(name: str, mapped: dict[str, str]) -> str:
    """setuptools' rule: a package lives under the folder of its nearest mapped ancestor."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        head = ".".join(parts[:n])
        if head in mapped:
            return os.path.join(ROOT, mapped[head], *parts[n:])
    raise AssertionError(f"{name}: no folder mapped for it or its parents")


def test_every_package_folder_is_listed_and_mapped_in_pyproject() -> None:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        setuptools = tomllib.load(f)["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    mapped = dict(setuptools["package-dir"])
    for name in listed:
        assert os.path.isfile(os.path.join(_folder_of(name, mapped), "__init__.py")), name
    on_disk = set()
    for name, path in mapped.items():
        top = os.path.join(ROOT, path)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            if "__init__.py" in filenames:
                rel = os.path.relpath(dirpath, top)
                on_disk.add(name if rel == "." else name + "." + rel.replace(os.sep, "."))
    assert on_disk <= listed, f"not installed by pip install .: {sorted(on_disk - listed)}"
