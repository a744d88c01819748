"""Namespaces given by `path` are joined, not created (as runc does)."""

from __future__ import annotations

import os


def _ns_of(pid: int, name: str) -> int:
    return os.stat(f"/proc/{pid}/ns/{name}").st_ino


def test_joining_another_containers_namespaces(runtime, bundle, cid):
    runtime("run", "-d", "--bundle", bundle(["sleep", "1000"]), cid, check=True)
    first = runtime.state(cid)["pid"]

    def join(spec: dict) -> None:
        for ns in spec["linux"]["namespaces"]:
            if ns["type"] in ("network", "ipc", "uts"):
                ns["path"] = f"/proc/{first}/ns/{ {'network': 'net'}.get(ns['type'], ns['type']) }"
        spec.pop("hostname", None)

    second_id = cid + "-b"
    runtime("run", "-d", "--bundle", bundle(["sleep", "1000"], edit=join), second_id, check=True)
    second = runtime.state(second_id)["pid"]
    for name in ("net", "ipc", "uts"):
        assert _ns_of(second, name) == _ns_of(first, name), name
    for name in ("pid", "mnt"):
        assert _ns_of(second, name) != _ns_of(first, name), name


def test_a_bad_namespace_path_fails_create(runtime, bundle, cid):
    def bad(spec: dict) -> None:
        spec["linux"]["namespaces"] = [ns if ns["type"] != "network" else {"type": "network", "path": "/nonexistent/ns"}
                                       for ns in spec["linux"]["namespaces"]]

    out = runtime("create", "--bundle", bundle(["true"], edit=bad), cid)
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1 and "/nonexistent/ns" in out.stderr
    assert runtime.ids() == []
