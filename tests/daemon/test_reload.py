"""SIGHUP: berthd reads daemon.json again and applies debug, log-level, registry-mirrors
and insecure-registries live, as dockerd does; a file it refuses changes nothing and
berthd keeps serving. Against a private berthd, signalled by its PID."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.daemon.conftest import Berthd, private_berthd, wait_until



@pytest.fixture(scope="module")
def engine() -> Iterator[tuple[Berthd, str]]:
    import tempfile

    d = tempfile.mkdtemp(prefix="berth-reload-")
    path = os.path.join(d, "daemon.json")
    with open(path, "w") as f:
        f.write("{}")
    try:
        # --log-level as a flag: the file may not set it too (a conflict, refused on reload as at start)
        with private_berthd(extra_args=["--config-file", path, "--log-level", "info"]) as b:
            yield b, path
    finally:
        import shutil

        shutil.rmtree(d, ignore_errors=True)


def _info(b: Berthd) -> dict:
    with b.client() as c:
        return c.get("/info").json()


def _write(path: str, text: str) -> None:
    with open(path + ".new", "w") as f:
        f.write(text)
    os.replace(path + ".new", path)


def _sighup(b: Berthd, expect: str) -> str:
    """SIGHUP berthd; the log once it has said `expect` about this reload."""
    assert b.proc is not None
    before = len(_log(b))
    os.kill(b.proc.pid, signal.SIGHUP)
    assert wait_until(lambda: expect in _log(b)[before:]), _log(b)[before:][-3000:]
    return _log(b)[before:]


def _log(b: Berthd) -> str:
    with open(os.path.join(b.root, "berthd.log"), errors="replace") as f:
        return f.read()


def test_a_valid_file_is_applied_and_logged(engine: tuple[Berthd, str]) -> None:
    b, path = engine
    info = _info(b)
    assert info["Debug"] is False and info["RegistryConfig"]["Mirrors"] == []
    _write(path, json.dumps({"debug": True, "registry-mirrors": ["https://mirror.berth.test:5000"],
                             "insecure-registries": ["registry.berth.test:5000", "10.99.0.0/16"]}))
    log = _sighup(b, "Reloaded configuration: ")
    assert f"Got signal to reload configuration, reloading from: {path}" in log
    info = _info(b)
    assert info["Debug"] is True
    registry = info["RegistryConfig"]
    assert registry["Mirrors"] == ["https://mirror.berth.test:5000/"]
    assert registry["IndexConfigs"]["registry.berth.test:5000"]["Secure"] is False
    assert "10.99.0.0/16" in registry["InsecureRegistryCIDRs"]
    # debug is on: requests are now logged at debug level
    with b.client() as c:
        c.get("/_ping")
    assert wait_until(lambda: "Calling GET /_ping" in _log(b))
    # the docker CLI sees it too
    r = b.docker("info")
    assert r.returncode == 0 and "Debug Mode: true" in r.stdout and "https://mirror.berth.test:5000/" in r.stdout
    # and docker's daemon event says so
    with b.client() as c:
        events = c.get("/events", params={"since": "0", "until": str(int(time.time()) + 1),
                                          "filters": json.dumps({"type": ["daemon"]})}).text
    reloads = [json.loads(line) for line in events.splitlines() if line.strip()]
    assert reloads and reloads[-1]["Action"] == "reload" and reloads[-1]["Actor"]["Attributes"]["debug"] == "true"


def test_a_key_the_file_no_longer_sets_keeps_its_value_and_false_turns_debug_off(
        engine: tuple[Berthd, str]) -> None:
    b, path = engine
    _write(path, json.dumps({"debug": True}))
    _sighup(b, "Reloaded configuration: ")
    _write(path, json.dumps({"registry-mirrors": []}))  # no "debug": it stays as it is
    _sighup(b, "Reloaded configuration: ")
    info = _info(b)
    assert info["Debug"] is True and info["RegistryConfig"]["Mirrors"] == []
    _write(path, json.dumps({"debug": False}))
    _sighup(b, "Reloaded configuration: ")
    assert _info(b)["Debug"] is False


@pytest.mark.parametrize(("text", "error"), [
    ("{not json", "invalid JSON"),
    ('{"debug": true, "no-such-key": 1}', "the following directives don't match any configuration option: no-such-key"),
    ('{"debug": "yes"}', "json: cannot unmarshal string into Go struct field Config.debug of type bool"),
    ('{"debug": true, "log-level": "debug"}', "the following directives are specified both as a flag and in the "
                                             "configuration file: log-level: (from flag: info, from file: debug)"),
    ('{"registry-mirrors": ["ftp://mirror.berth.test"]}', 'invalid mirror: unsupported scheme "ftp"'),
])
def test_a_file_refused_changes_nothing_and_berthd_keeps_serving(
        engine: tuple[Berthd, str], text: str, error: str) -> None:
    b, path = engine
    _write(path, json.dumps({"debug": False, "registry-mirrors": ["https://kept.berth.test"]}))
    _sighup(b, "Reloaded configuration: ")
    before = _info(b)
    _write(path, text)
    log = _sighup(b, "Error reloading configuration: ")
    line = next(ln for ln in log.splitlines() if "Error reloading configuration: " in ln)
    assert error in line, line
    if "directives" in error or "unmarshal" in error or "JSON" in error:
        assert f"unable to configure the Docker daemon with file {path}: " in line
    assert "Reloaded configuration" not in log
    after = _info(b)
    assert (after["Debug"], after["RegistryConfig"]) == (before["Debug"], before["RegistryConfig"])
    assert b.proc is not None and b.proc.poll() is None
    with b.client() as c:
        assert c.get("/_ping").text == "OK"


def test_a_missing_config_file_named_by_the_flag_is_refused(engine: tuple[Berthd, str]) -> None:
    b, path = engine
    os.unlink(path)
    try:
        log = _sighup(b, "Error reloading configuration: ")
        assert f"open {path}: no such file or directory" in log
        with b.client() as c:
            assert c.get("/_ping").text == "OK"
    finally:
        _write(path, "{}")


def test_sighup_does_not_end_berthd(engine: tuple[Berthd, str]) -> None:
    """The default action of SIGHUP is to terminate: berthd has a handler for it."""
    b, _ = engine
    _sighup(b, "Reloaded configuration: ")
    try:
        with b.client() as c:
            assert c.get("/_ping").text == "OK"
    except httpx.TransportError as e:
        pytest.fail(f"berthd stopped serving after SIGHUP: {e}")
