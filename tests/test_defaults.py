"""Every component's defaults come from berth.common, so that an installed berthd, the
berth-containerd it starts, a berth-containerd started by hand, the client and the
shim agree on where things are and on what the runtime called "berth" is."""

from __future__ import annotations

import os
import tomllib

import pytest

from berth import common
from berth.client import api
from berth.containerd import main as containerd_main
from berth.containerd.runtime import tasks
from berth.daemon import main as daemon_main
from berth.daemon.config import Config
from berth.shim import main as shim_main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_berthd_puts_its_containerd_where_berth_containerd_looks_by_default() -> None:
    cfg = daemon_main.parse_args([])
    assert cfg == Config()
    assert (cfg.socket_path, cfg.data_root, cfg.exec_root) == (
        common.DEFAULT_HOST.removeprefix("unix://"), common.DATA_ROOT, common.EXEC_ROOT)
    ctrd = containerd_main.parse_args([])
    assert (ctrd.address, ctrd.root, ctrd.state) == (cfg.containerd_address, cfg.containerd_root,
                                                      cfg.containerd_state)


def test_the_client_talks_to_berthd_default_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BERTH_HOST", raising=False)
    assert api.host_from_env(None) == api.Client().host == Config().host


def test_one_name_for_the_in_process_runtime() -> None:
    opts = shim_main.parse_args(["--id", "x", "--bundle", "/b", "--runtime-root", "/r"])
    assert opts.runtime == tasks.runtime_name("") == Config().default_runtime == common.RUNTIME_LIBRARY
    assert Config().runtime_binary(common.RUNTIME_LIBRARY) == ""  # "": the shim's library path


def test_the_version_is_defined_once() -> None:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        pyproject = tomllib.load(f)
    assert pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "berth.common.VERSION"}
    literal = f'"{common.VERSION}"'
    for folder in pyproject["tool"]["setuptools"]["package-dir"].values():
        for dirpath, _, filenames in os.walk(os.path.join(ROOT, folder)):
            for name in filenames:
                path = os.path.join(dirpath, name)
                if name.endswith(".py") and path != os.path.join(ROOT, "common", "__init__.py"):
                    with open(path) as f:
                        assert literal not in f.read(), f"{path} spells out the version"
