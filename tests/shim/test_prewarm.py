"""berth.shim.prewarm: the fork server's warm-up ends whatever the shim's loop does.

Each probe is a fresh interpreter whose shim server is broken on purpose (the only way
to have it stop partway), and runs the warm-up as the fork server does.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# What the loop's server does with a connection that has sent its requests.
BROKEN = {
    # drops it unanswered: the client reads EOF (it once read b"" forever)
    "drops": "lambda self, conn: self._drop(conn)",
    # keeps it and answers nothing: nothing is ever ready (the loop once blocked forever)
    "ignores": "lambda self, conn: None",
}


def _warm(tmp: str, patch: str = "pass") -> subprocess.CompletedProcess[str]:
    """The warm-up in a probe whose temp dir is `tmp`: its result, then what it left there."""
    probe = ("import os, tempfile; from berth.shim import server; "
             f"{patch}; "
             "from berth.shim.prewarm import prewarm; print(prewarm()); print(sorted(os.listdir(tempfile.gettempdir())))")
    # the timeout is a guard against the hang under test, no measure of anything
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          check=True, env={**os.environ, "TMPDIR": tmp})


def test_the_warm_up_runs_through(tmp_path) -> None:
    assert _warm(str(tmp_path)).stdout.splitlines() == ["True", "[]"]


@pytest.mark.parametrize("server", BROKEN.values(), ids=BROKEN.keys())
def test_a_loop_that_stops_answering_ends_the_warm_up_with_a_log_line(tmp_path, server: str) -> None:
    done = _warm(str(tmp_path), f"server.Server._process = {server}")
    assert done.stdout.splitlines() == ["False", "[]"]  # its temp dir removed all the same
    assert 'level=warning msg="fork server: warm-up failed, shims start colder"' in done.stderr
    assert "WarmupError: the shim's loop answered 0 of 24 requests" in done.stderr


def test_a_killed_warm_ups_temp_dir_goes_at_the_next_one(tmp_path) -> None:
    # a fork server killed while it warms up never reaches its finally
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    (tmp_path / f"berth-prewarm-{dead}-abc").mkdir()
    (tmp_path / f"berth-prewarm-{os.getpid()}-def").mkdir()  # a live helper's: kept
    (tmp_path / "berth-prewarm-other").mkdir()  # not a helper's name: not ours to judge
    assert _warm(str(tmp_path)).stdout.splitlines() == [
        "True", str(sorted([f"berth-prewarm-{os.getpid()}-def", "berth-prewarm-other"]))]
