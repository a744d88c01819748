"""berthd's logging as dockerd's: -D/--debug and --log-level with dockerd's levels; at
debug, one line per request ("Calling GET /v1.45/containers/json...", with the status
and the time it took); every 5xx logged once, with its traceback, and answered with a
message that says what failed."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Iterator

import httpx
import pytest
from tests.daemon.conftest import Berthd, private_berthd, wait_until

from berth.daemon import app as app_module
from berth.daemon.main import parse_args


def _log(d: Berthd) -> str:
    with open(os.path.join(d.root, "berthd.log"), errors="replace") as f:
        return f.read()


@pytest.fixture(scope="module")
def debug_berthd() -> Iterator[Berthd]:
    with private_berthd(extra_args=["-D"]) as d:
        yield d


@pytest.mark.parametrize("argv,level", [
    ([], "info"), (["--log-level", "debug"], "debug"), (["-l", "warn"], "warning"),
    (["--log-level", "ERROR"], "error"), (["--log-level", "fatal"], "critical"),
    (["-D"], "debug"), (["--debug", "--log-level", "error"], "debug"),
])
def test_log_level_flags_are_dockerds(argv: list[str], level: str) -> None:
    assert parse_args(argv).log_level == level


def test_an_unknown_log_level_is_refused_in_dockerds_words(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        parse_args(["--log-level", "loud"])
    assert e.value.code == 2
    assert "invalid logging level: loud" in capsys.readouterr().err


def test_debug_logs_one_line_per_request(debug_berthd: Berthd) -> None:
    with debug_berthd.client() as api:
        assert api.get("/v1.45/containers/json", params={"all": 1}).status_code == 200
        assert api.get("/containers/no-such-one/json").status_code == 404
        assert api.get("/v1.99/version").status_code == 400  # refused before the routes
    lines = wait_until(lambda: [line for line in _log(debug_berthd).splitlines() if "Calling " in line
                                and "/version" in line])
    assert lines, _log(debug_berthd)
    log = _log(debug_berthd)
    for request, status in (("GET /v1.45/containers/json?all=1", 200), ("GET /containers/no-such-one/json", 404),
                            ("GET /v1.99/version", 400)):
        found = re.findall(rf"DEBUG berthd\.api: Calling {re.escape(request)}: {status} in [0-9.]+ ms$", log, re.M)
        assert len(found) == 1, (request, log)
    assert 'HTTP/1.1" 200' not in log  # uvicorn's access log is off: one line per request


def test_debug_logs_a_hijacked_attach(debug_berthd: Berthd) -> None:
    r = debug_berthd.docker("run", "--rm", "busybox", "echo", "hi")
    assert r.returncode == 0 and r.stdout == "hi\n", r.stderr
    assert wait_until(lambda: re.search(r"Calling POST /v1\.\d+/containers/[0-9a-f]{64}/attach\?\S*: 101 "
                                        r"\(connection hijacked\)", _log(debug_berthd)))


def test_info_logs_no_requests(berthd: Berthd, api: httpx.Client) -> None:
    for _ in range(2):  # the first request's line, if any, is written before the second is served
        assert api.get("/containers/json").status_code == 200
    assert "Calling " not in _log(berthd)


def test_an_unexpected_failure_is_logged_once_and_says_what_failed(caplog: pytest.LogCaptureFixture) -> None:
    """The app berthd serves, with one route that fails as a bug would (no engine needed)."""
    fastapi_app = app_module.build(engine=None, managed=None)  # type: ignore[arg-type]

    @fastapi_app.get("/containers/{id}/broken")
    async def broken(id: str) -> None:
        raise KeyError(f"state of {id}")

    async def call() -> httpx.Response:
        # raise_app_exceptions: an exception that left the app would fail the call, as it
        # would reach uvicorn, which logs it (a second traceback) and answers for itself
        transport = httpx.ASGITransport(app=fastapi_app, raise_app_exceptions=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://berth") as client:
            return await client.get("/containers/abc/broken")

    with caplog.at_level(logging.ERROR):
        r = asyncio.run(call())
    assert r.status_code == 500
    assert r.json() == {"message": "internal error: GET /containers/abc/broken: KeyError: 'state of abc'"}
    records = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(records) == 1 and records[0].exc_info is not None
    assert "GET /containers/abc/broken" in records[0].getMessage()


def test_a_refused_value_names_the_parameter(api: httpx.Client) -> None:
    cid = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["true"]}).json()["Id"]
    try:
        r = api.get(f"/containers/{cid}/logs", params={"stdout": 1, "since": "soon"})
        assert r.status_code == 400 and r.json()["message"].startswith("invalid value for since: 'soon': ")
        r = api.post(f"/containers/{cid}/stop", params={"t": "later"})
        assert (r.status_code, r.json()) == (400, {"message": "invalid value for t: 'later': not an integer"})
    finally:
        api.delete(f"/containers/{cid}")
