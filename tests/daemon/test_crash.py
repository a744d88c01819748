"""A crash at any point leaves the old state or the new one.

Each trial sends what `run` and `rm -f` send (create, start, and a forced remove of
an older container; some with --rm, some exiting at once) and SIGKILLs one daemon at
a random moment of it, then has it come back (berthd is started again; berthd's
supervisor restarts berth-containerd). Afterwards berthd's API, berth-containerd's
API and both stores' directories must agree, every error a client got must be in
words a user understands, and at the end `rm -f` of everything leaves no mount,
cgroup, shim or FIFO. Seeded, so a failure replays with the same kill points.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import httpx
import pytest

from tests.daemon.conftest import Berthd, wait_until
from tests.daemon.stores import RAW_GRPC, leaks, private_berthd, problems
from tests.host import alive

# More trials or another seed, to hunt: BERTH_CRASH_TRIALS=80 BERTH_CRASH_SEED=7 pytest ...
SEED = os.environ.get("BERTH_CRASH_SEED", "20261201")
TRIALS = int(os.environ.get("BERTH_CRASH_TRIALS", "10"))  # per daemon


@dataclass
class Trial:
    rm: bool               # --rm
    quick: bool            # exits at once (so --rm removes it while the crash may come)
    victim: str | None     # an older container to rm -f
    errors: list[str] = field(default_factory=list)


def _send(d: Berthd, t: Trial) -> None:
    """The requests of one trial; a berthd that dies ends it, a refusal is recorded."""
    cmd = ["sh", "-c", "exit 3"] if t.quick else ["sleep", "300"]
    try:
        with d.client(timeout=120) as api:
            r = api.post("/containers/create", json={"Image": "busybox", "Cmd": cmd,
                                                     "HostConfig": {"AutoRemove": t.rm}})
            if r.status_code != 201:
                t.errors.append(r.json()["message"])
            else:
                r = api.post(f"/containers/{r.json()['Id']}/start")
                if r.status_code != 204:
                    t.errors.append(r.json()["message"])
            if t.victim:
                r = api.delete(f"/containers/{t.victim}", params={"force": 1})
                if r.status_code not in (204, 404):
                    t.errors.append(r.json()["message"])
    except httpx.TransportError:
        pass  # berthd was killed under this request


def _running(api: httpx.Client) -> list[str]:
    return sorted(c["Id"] for c in api.get("/containers/json").json())


def _trial(d: Berthd, rng: random.Random) -> Trial:
    with d.client() as api:
        pool = _running(api)
    victim = rng.choice(pool) if pool and (len(pool) > 3 or rng.random() < 0.5) else None
    return Trial(rm=rng.random() < 0.5, quick=rng.random() < 0.4, victim=victim)


def _calibrate(d: Berthd) -> float:
    """How long one trial's requests take here: the kill points are spread over it."""
    spans = []
    for _ in range(2):
        t0 = time.monotonic()
        _send(d, Trial(rm=True, quick=True, victim=None))
        spans.append(time.monotonic() - t0)
    return max(spans) * 1.5


def _kill(d: Berthd, which: str) -> None:
    if which == "berthd":
        d.kill9(containerd=False)
        d.start()
    else:
        old = d.containerd_pid()
        os.kill(old, signal.SIGKILL)
        assert wait_until(lambda: not alive(old))
        assert wait_until(lambda: d.containerd_pid() != old and alive(d.containerd_pid()))
    with d.client() as api:  # berthd is through to containerd again (the next kill hits a live line)
        assert api.get("/images/json").status_code == 200


@pytest.fixture(scope="module")
def crashing() -> Iterator[Berthd]:
    with private_berthd() as d:
        d.start()
        yield d


@pytest.mark.parametrize("which", ["berthd", "berth-containerd"])
def test_sigkill_at_random_moments_of_run_and_rm_leaves_old_or_new_state(crashing: Berthd, which: str) -> None:
    d = crashing
    rng = random.Random(f"{SEED}-{which}")
    span = _calibrate(d)
    for i in range(TRIALS):
        trial = _trial(d, rng)
        delay = rng.uniform(0, span)
        sender = threading.Thread(target=_send, args=(d, trial), daemon=True)
        sender.start()
        time.sleep(delay)
        _kill(d, which)
        sender.join(120)
        assert not sender.is_alive()
        where = f"trial {i} ({trial}, kill after {delay * 1000:.0f} ms)"
        assert not [e for e in trial.errors if RAW_GRPC.search(e)], where
        with d.client() as api:
            assert wait_until(lambda: not problems(d, api)), f"{where}: {problems(d, api)}\n{d.log_tail()}"

    with d.client() as api:
        for c in api.get("/containers/json", params={"all": 1}).json():
            assert api.delete(f"/containers/{c['Id']}", params={"force": 1}).status_code in (204, 404)
        assert api.get("/containers/json", params={"all": 1}).json() == []
        assert problems(d, api) == []
    assert wait_until(lambda: not leaks(d)), leaks(d)
