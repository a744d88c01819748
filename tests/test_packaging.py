"""pyproject.toml tells the truth: a regular `pip install` carries every package of
every component, and an install that satisfies its dependencies can import them.

The components live in top-level folders mapped to berth.* by pyproject.toml, so a
new sub-package is only installed once it is listed there; editable installs
(what the tests use) would not notice. The dependencies are the third-party modules
the code imports, no more and no fewer, and grpcio/protobuf start where the
generated proto/ modules' own version checks do.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import sys
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


def _project() -> dict:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _requirements(lines: list[str]) -> dict[str, str]:
    """{"grpcio": ">=1.85.1"}: name (normalized as PyPI does) to its version specifier."""
    reqs = {}
    for line in lines:
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)", line)
        assert m, line
        reqs[re.sub(r"[-_.]+", "-", m[1]).lower()] = m[2].replace(" ", "")
    return reqs


def test_grpc_bounds_are_what_the_generated_modules_check_at_import() -> None:
    with open(os.path.join(ROOT, "proto", "containerd_pb2_grpc.py")) as f:
        grpc_made = re.search(r"^GRPC_GENERATED_VERSION = '([0-9.]+)'$", f.read(), re.M)[1]
    with open(os.path.join(ROOT, "proto", "containerd_pb2.py")) as f:
        check = re.search(r"ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,"
                          r"\s*(\d+),\s*(\d+),\s*(\d+),\s*'',", f.read())
    protobuf_made = ".".join(check.groups())
    project = _project()
    deps = _requirements(project["dependencies"])
    assert deps["grpcio"] == f">={grpc_made}"
    assert deps["protobuf"] == f">={protobuf_made}"
    # The code generator that made them, so that scripts/gen-proto makes them again.
    assert _requirements(project["optional-dependencies"]["test"])["grpcio-tools"] == f"=={grpc_made}"


def _third_party_imports(folders: list[str]) -> dict[str, str]:
    """Top-level modules imported (anywhere: lazily in functions too) by the .py files
    under `folders` that are neither stdlib nor berth itself, each with one file using it.
    The folders' own modules are not counted (tests/ is on sys.path: `import rootfs`)."""
    found: dict[str, str] = {}
    files = [os.path.join(dirpath, name)
             for folder in folders for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, folder))
             for name in filenames if name.endswith(".py") and "__pycache__" not in dirpath]
    local = {"berth", "__future__", *folders}
    local |= {os.path.splitext(name)[0] for folder in folders for name in os.listdir(os.path.join(ROOT, folder))}
    for path in files:
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top not in sys.stdlib_module_names and top not in local:
                    found.setdefault(top, os.path.relpath(path, ROOT))
    return found


def _declared(tops: dict[str, str], declared: dict[str, str]) -> set[str]:
    """The distributions that provide `tops`; fails on a module none of `declared` provides."""
    dists = importlib.metadata.packages_distributions()
    used = set()
    for top, where in tops.items():
        provided = {re.sub(r"[-_.]+", "-", d).lower() for d in dists.get(top, [])}
        assert provided & set(declared), f"{where} imports {top}, which no declared dependency provides"
        used |= provided & set(declared)
    return used


def test_dependencies_are_what_the_installed_code_imports() -> None:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        folders = sorted(set(tomllib.load(f)["tool"]["setuptools"]["package-dir"].values()))
    deps = _requirements(_project()["dependencies"])
    used = _declared(_third_party_imports(folders), deps)
    assert used == set(deps), f"declared but never imported: {sorted(set(deps) - used)}"


def test_the_test_extra_is_what_the_tests_import() -> None:
    project = _project()
    deps = _requirements(project["dependencies"])
    test = _requirements(project["optional-dependencies"]["test"])
    used = _declared(_third_party_imports(["tests"]), {**deps, **test})
    # grpcio-tools is run (scripts/gen-proto), pytest-timeout is a plugin: neither is imported.
    assert set(test) - used == {"grpcio-tools", "pytest-timeout"}
