"""A regular `pip install` must carry every package of every component.

The components live in top-level folders mapped to berth.* by pyproject.toml, so a
new sub-package is only installed once it is listed there; editable installs
(what the tests use) would not notice.
"""

from __future__ import annotations

import os
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_package_folder_is_listed_and_mapped_in_pyproject() -> None:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        setuptools = tomllib.load(f)["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    mapped = {name: path for name, path in setuptools["package-dir"].items()}
    assert listed == set(mapped)
    on_disk = set()
    for name, path in mapped.items():
        top = os.path.join(ROOT, path)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            if "__init__.py" in filenames:
                rel = os.path.relpath(dirpath, top)
                on_disk.add(name if rel == "." else name + "." + rel.replace(os.sep, "."))
    assert on_disk <= listed, f"not installed by pip install .: {sorted(on_disk - listed)}"
