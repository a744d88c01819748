"""The classic builder's output, line by line, against Debian's dockerd 20.10 building
the same Dockerfile from the same base image (berth's busybox, pushed to the test
registry and pulled by dockerd): RUN, COPY, config-only steps (` ---> Running in` /
`Removing intermediate container` for them too), ONBUILD triggers, cached steps,
`Successfully built/tagged`, a failed RUN (with and without forcerm, quiet or not),
through the docker CLI and as the API's JSON messages. IDs are masked; everything
else must be the same. A failed build keeps the images of the steps that worked, as
dockerd's does; berth leaves no container behind (dockerd keeps the failed one unless
forcerm)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.build.conftest import berth, write_tree

_ID = re.compile(r"(sha256:)?\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b")


@dataclass
class Peers:
    base: str           # the same image in both: 127.0.0.1:PORT/outbase-xxxx:v1
    berth: dict[str, str]
    docker: dict[str, str]


@pytest.fixture(scope="module")
def peers(engine, dockerd, registry) -> Iterator[Peers]:
    base = f"{registry.host}/outbase-{uuid.uuid4().hex[:8]}:v1"
    assert berth(engine, "tag", "busybox", base).returncode == 0
    r = berth(engine, "push", base)
    assert r.returncode == 0, r.stderr
    r = dockerd.docker("pull", base, timeout=300)
    assert r.returncode == 0, r.stderr
    yield Peers(base, {**engine.env, "DOCKER_BUILDKIT": "0"}, {**dockerd.env, "DOCKER_BUILDKIT": "0"})


def _mask(text: str) -> list[str]:
    return [_ID.sub("ID", line) for line in text.splitlines()]


def _both(peers: Peers, ctx: str, *args: str) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """`docker build ARGS CTX` (the legacy builder) against berthd, then dockerd."""
    return tuple(subprocess.run(["docker", "build", *args, ctx], env=env, capture_output=True, text=True,
                                timeout=300) for env in (peers.berth, peers.docker))  # type: ignore[return-value]


def _same(ours: subprocess.CompletedProcess, theirs: subprocess.CompletedProcess) -> list[str]:
    assert ours.returncode == theirs.returncode, (ours.stdout + ours.stderr, theirs.stdout + theirs.stderr)
    assert _mask(ours.stdout) == _mask(theirs.stdout)
    assert _mask(ours.stderr) == _mask(theirs.stderr)
    return ours.stdout.splitlines()


DOCKERFILE = """FROM {base} AS build
ENV MARK={mark}
RUN echo building && mkdir /out && echo made > /out/thing
FROM {base}
ARG VERSION=1
ENV MARK={mark} APP=/srv
LABEL org.example.role=demo
COPY --from=build /out/thing /srv/thing
COPY --chown=1000:1000 a.txt /srv/
WORKDIR /srv
RUN echo step output; cat /srv/thing
USER 1000
EXPOSE 8080
VOLUME /data
HEALTHCHECK --interval=5s CMD true
STOPSIGNAL SIGTERM
ONBUILD RUN echo triggered
CMD ["sh"]
"""


def test_steps_cache_and_triggers_as_dockerd(peers, ctx):
    mark = uuid.uuid4().hex[:8]  # a miss in both caches the first time
    write_tree(ctx, {"Dockerfile": DOCKERFILE.format(base=peers.base, mark=mark), "a.txt": "a\n"})
    tag = f"out-{mark}"
    lines = _same(*_both(peers, ctx, "-t", tag, "--label", "via=cli", "--label", "a.note=two $words"))
    assert lines[lines.index(f"Step 6/20 : ENV MARK={mark} APP=/srv") + 1].startswith(" ---> Running in ")
    assert sum(line.startswith(" ---> Running in ") for line in lines) == 16  # all but FROM, FROM and the COPYs
    assert lines[-1] == f"Successfully tagged {tag}:latest"
    labels = [json.loads(subprocess.run(["docker", "image", "inspect", tag], env=env, capture_output=True,
                                        text=True).stdout)[0]["Config"]["Labels"] for env in (peers.berth, peers.docker)]
    assert labels[0] == labels[1] == {"org.example.role": "demo", "via": "cli", "a.note": "two $words"}
    # again: every step from the cache
    lines = _same(*_both(peers, ctx, "-t", tag, "--label", "via=cli", "--label", "a.note=two $words"))
    assert lines.count(" ---> Using cache") == 18 and not any("Running in" in line for line in lines)
    # the triggers, run by the FROM of a child image
    write_tree(ctx, {"Dockerfile": f"FROM {tag}\nCMD [\"true\"]\n"})
    lines = _same(*_both(peers, ctx, "--no-cache", "-t", f"{tag}-child"))
    assert lines[lines.index(f"Step 1/2 : FROM {tag}") + 1] == "# Executing 1 build trigger"
    assert "triggered" in lines


def _context(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return buf.getvalue()


def _messages(client: httpx.Client, body: bytes, **params: str) -> list[dict]:
    r = client.post("/build", params=params, content=body, headers={"Content-Type": "application/x-tar"})
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


def _masked(messages: list[dict]) -> list[str]:
    return [_ID.sub("ID", json.dumps(m, sort_keys=True)) for m in messages]


def _ids(messages: list[dict]) -> list[str]:
    """The image of each step that worked, from its ` ---> ID` line."""
    text = "".join(m.get("stream", "") for m in messages)
    return re.findall(r"^ ---> ([0-9a-f]{12})$", text, re.M)


def test_failed_run_as_dockerd(engine, dockerd, peers):
    mark = uuid.uuid4().hex[:8]
    body = _context({"Dockerfile": f"FROM {peers.base}\nENV MARK={mark}\nRUN echo before\n"
                                   "RUN echo failing && exit 3\nCMD [\"sh\"]\n"})
    with engine.client(timeout=300) as ours, dockerd.client() as theirs:
        theirs.timeout = httpx.Timeout(300)
        before = {c["Id"] for c in ours.get("/containers/json", params={"all": 1}).json()}
        for params in ({"t": f"fail-{mark}"}, {"forcerm": "1"}, {"q": "1"}, {"q": "1", "nocache": "1"}):
            mine, peer = _messages(ours, body, **params), _messages(theirs, body, **params)
            assert _masked(mine) == _masked(peer), params
            assert mine[-1]["errorDetail"] == {
                "code": 3, "message": "The command '/bin/sh -c echo failing && exit 3' returned a non-zero code: 3"}
        # the steps that worked left their images, in both; no tag moved
        for client, msgs in ((ours, mine), (theirs, peer)):
            assert len(_ids(msgs)) == 3
            for short in _ids(msgs):
                assert client.get(f"/images/{short}/json").status_code == 200
            assert client.get(f"/images/fail-{mark}/json").status_code == 404
        # berth leaves no container behind (dockerd keeps the failed RUN's, unless forcerm)
        assert {c["Id"] for c in ours.get("/containers/json", params={"all": 1}).json()} == before
        with open("/proc/mounts") as f:
            assert not [m for m in f if "apply-" in m or "export-" in m]


def test_quiet_build_as_dockerd(engine, dockerd, peers):
    body = _context({"Dockerfile": f"FROM {peers.base}\nENV MARK={uuid.uuid4().hex[:8]}\nRUN echo quiet\n"})
    with engine.client(timeout=300) as ours, dockerd.client() as theirs:
        theirs.timeout = httpx.Timeout(300)
        mine, peer = _messages(ours, body, q="1"), _messages(theirs, body, q="1")
    assert _masked(mine) == _masked(peer) == [json.dumps({"stream": "ID\n"}, sort_keys=True)]
