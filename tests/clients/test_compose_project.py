"""The whole docker-compose 1.29 project story (compose_project.py) against berthd, and
the same project against a private Debian dockerd: the same `ps`, the same answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from tests import dockerd as dockerd_mod
from tests.clients.compose_project import Seen, make, remove, story
from tests.daemon.conftest import Berthd
from tests.images.registry import Registry
from tests.network.conftest import host_state

# dockerd's pool for the project's network, away from the berthd tests' pools
DOCKER_POOL = "10.250.0.0/16"


@pytest.fixture(scope="module")
def base(berthd: Berthd, registry: Registry) -> Iterator[str]:
    """busybox pushed to the local registry, then its tag removed from berthd: `up` pulls it."""
    ref = f"{registry.host}/compose/busybox:{uuid.uuid4().hex[:6]}"
    with berthd.client() as api:
        repo, tag = ref.rsplit(":", 1)
        assert api.post("/images/busybox/tag", params={"repo": repo, "tag": tag}).status_code == 201
        r = api.post(f"/images/{ref}/push", headers={"X-Registry-Auth": "e30="})
        assert r.status_code == 200 and '"error"' not in r.text, r.text
        assert api.delete(f"/images/{ref}").status_code == 200
    yield ref
    with berthd.client() as api:  # what `up` pulled: busybox's other tests see it untouched again
        for image in api.get("/images/json", params={"digests": 1}).json():
            for name in (image.get("RepoTags") or []) + (image.get("RepoDigests") or []):
                if name.startswith(repo + ":") or name.startswith(repo + "@"):
                    api.delete(f"/images/{name}")


@pytest.fixture(scope="module")
def berth_seen(berthd: Berthd, base: str) -> Iterator[Seen]:
    p = make(berthd.env, base, f"bp{uuid.uuid4().hex[:6]}")
    try:
        yield story(p, lambda: host_state(berthd))
    finally:
        remove(p)


def test_compose_project_story_on_berth(berth_seen: Seen, base: str) -> None:
    s = berth_seen.steps
    assert s["up pulled the registry image"] and s["up built web"]
    assert s["db healthy before web started"]
    assert s["web answers"] == "web boots=1\n"
    assert s["ps after up"] == [["P_db_1", "Up (healthy)", ""], ["P_web_1", "Up", "0.0.0.0:N->80/tcp"]]
    assert s["images"] == sorted(["P_web", base])
    assert s["logs -f begins"]
    assert [r[0] for r in s["ps after scale"]] == ["P_db_1", "P_web_1", "P_web_2", "P_web_3"]
    assert s["three webs answer"] == ["web boots=1\n"] * 3
    # the follower saw the replicas scale added, and ended when the project stopped
    assert s["logs -f saw db up"] and s["logs -f saw the replicas"] == ["web_1", "web_2", "web_3"]
    assert s["logs -f ended with the project"] == 0
    assert s["killed db came back"] == 1
    # boots: up, the start after stop (up --scale web=1), the restart after the kill
    assert s["db boots after kill"] == "3\n"
    assert s["volumes"] == ["P_data"]
    assert s["volume kept by down"]
    assert s["boots after down and up"] == "4\n"
    assert s["down -v removed the volume"]
    assert s["left after down -v"] == {"containers": [], "networks": [], "volumes": []}
    assert s["host after down -v is as before"]
    assert s["boots after down -v and up"] == "1\n"


@pytest.fixture(scope="module")
def dockerd() -> Iterator[dockerd_mod.Dockerd]:
    """Debian's dockerd, private (tests/dockerd.py: no default bridge, no iptables). The
    project needs no default bridge: its services are on a named network, which dockerd
    makes itself (a bridge from DOCKER_POOL, removed by `down`), and its published ports
    go through docker-proxy."""
    d = dockerd_mod.start(["--default-address-pool", f"base={DOCKER_POOL},size=24"])
    try:
        yield d
    finally:
        dockerd_mod.stop(d)


def test_the_same_project_on_docker_shows_the_same(dockerd: dockerd_mod.Dockerd, berth_seen: Seen,
                                                   base: str) -> None:
    p = make(dockerd.env, base, f"dp{uuid.uuid4().hex[:6]}")
    try:
        seen = story(p)
    finally:
        remove(p)
    mine, theirs = dict(berth_seen.steps), dict(seen.steps)
    mine.pop("host after down -v is as before")
    for step in ("ps after up", "ps after scale"):  # dockerd also publishes on IPv6, berth does not (yet)
        theirs[step] = [[n, st, ports.replace(",:::N->80/tcp", "")] for n, st, ports in theirs[step]]
    assert {k: v for k, v in mine.items() if theirs.get(k) != v} == {}
    assert set(theirs) == set(mine)
    print("\ndocker-compose seconds (berth, docker):",
          {k: (round(berth_seen.timings[k], 2), round(v, 2)) for k, v in seen.timings.items()})

