"""The layout keeps its promises: one gRPC client in berthd, one gRPC face in
berth-containerd, and modules small enough to read."""

from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPONENTS = ("client", "common", "containerd", "daemon", "runc", "shim")
MAX_LINES = 400


def _modules() -> list[str]:
    out = []
    for top in COMPONENTS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            out += [os.path.join(dirpath, f) for f in filenames if f.endswith(".py")]
    return sorted(out)


def _imports(path: str) -> set[str]:
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_grpc_is_imported_only_by_berthds_containerd_client_and_containerds_server() -> None:
    allowed = (os.path.join(ROOT, "daemon", "libcontainerd") + os.sep,
               os.path.join(ROOT, "containerd", "server") + os.sep)
    importers = [os.path.relpath(p, ROOT) for p in _modules() if "grpc" in _imports(p)]
    assert importers, "the scan found no grpc importer at all: it is broken"
    assert [p for p in importers if not os.path.join(ROOT, p).startswith(allowed)] == []


def test_routers_talk_to_services_not_to_containerd() -> None:
    routers = os.path.join(ROOT, "daemon", "routers")
    for name in os.listdir(routers):
        if name.endswith(".py"):
            with open(os.path.join(routers, name)) as f:
                text = f.read()
            assert "berth.proto" not in text and ".ctrd." not in text, name


def test_no_module_is_over_400_lines() -> None:
    sizes = {}
    for path in _modules():
        with open(path) as f:
            sizes[os.path.relpath(path, ROOT)] = sum(1 for _ in f)
    assert len(sizes) > 50
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}
