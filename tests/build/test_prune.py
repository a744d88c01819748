"""A classic build's step images are parents, not dangling images: `docker images` hides
them (`-a` shows them), `docker image prune` keeps them (and so the build cache), a
rebuild that changes the last step leaves only the old top dangling, and rmi or
`prune -a` of the top takes its untagged parents along. The same docker CLI commands
against berthd and against Debian's dockerd, from the same imported base; ids masked."""

from __future__ import annotations

import re
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests import rootfs
from tests.build.conftest import write_tree

_ID = re.compile(r"(sha256:)?\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b")


@dataclass
class Peer:
    name: str
    env: dict[str, str]

    def docker(self, *args: str) -> subprocess.CompletedProcess:
        r = subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (self.name, args, r.stdout + r.stderr)
        return r


@pytest.fixture(scope="module")
def peers(engine, dockerd, tmp_path_factory) -> Iterator[tuple[str, Peer, Peer]]:
    """berthd and dockerd, each with the same busybox root imported as `prunebase-X`."""
    work = tmp_path_factory.mktemp("prune-base")
    tar = str(work / "root.tar")
    with tarfile.open(tar, "w") as t:
        t.add(rootfs.make_rootfs(str(work / "root")), arcname=".")
    base = f"prunebase-{uuid.uuid4().hex[:8]}"
    for client in (engine.client(timeout=300), dockerd.client()):
        with client as c:
            rootfs.import_tar(c, tar, base)
    ours, theirs = Peer("berthd", {**engine.env, "DOCKER_BUILDKIT": "0"}), Peer(
        "dockerd", {**dockerd.env, "DOCKER_BUILDKIT": "0"})
    yield base, ours, theirs
    for p in (ours, theirs):  # what a failed test left too (every image here has a mark)
        left = p.docker("images", "-a", "-q", "--no-trunc", "--filter", "label=mark").stdout.split()
        if left:
            subprocess.run(["docker", "rmi", "-f", *left], env=p.env, capture_output=True, timeout=300)
        p.docker("rmi", base)


def _ids(peer: Peer, mark: str, *flags: str) -> set[str]:
    return set(peer.docker("images", *flags, "-q", "--no-trunc", "--filter", f"label=mark={mark}").stdout.split())


def _deleted(out: str) -> list[str]:
    """What a prune or an rmi printed, ids masked, in order of kind (berth says an image's
    layers after all its images, dockerd after each image)."""
    return sorted(_ID.sub("ID", line) for line in out.splitlines() if not line.startswith("Total reclaimed"))


def test_step_images_are_parents_kept_by_prune_and_removed_with_their_child(peers, ctx):
    base, *both = peers
    mark = uuid.uuid4().hex[:8]
    dockerfile = f"FROM {base}\nLABEL mark={mark}\nRUN echo a > /a\nENV X=1\nRUN echo {{}} > /b\n"
    app = f"prune-app-{mark}:1"
    for peer in both:
        write_tree(ctx, {"Dockerfile": dockerfile.format("b")})
        peer.docker("build", "-t", app, ctx)
        every = _ids(peer, mark, "-a")
        assert len(every) == 4, (peer.name, every)  # LABEL, RUN, ENV, RUN: one image a step
        top, parent = peer.docker("image", "inspect", "-f", "{{.Id}} {{.Parent}}", app).stdout.split()
        assert _ids(peer, mark) == {top} and parent in every - {top}, peer.name  # the steps' hidden without -a
        history = peer.docker("history", "-q", app).stdout.split()
        assert set(history[:4]) == {i[7:19] for i in every} and history[4] != "<missing>", (peer.name, history)

        # the steps are not dangling: prune keeps them, and the rebuild is all cache
        assert _deleted(peer.docker("image", "prune", "-f", "--filter", f"label=mark={mark}").stdout) == []
        assert _ids(peer, mark, "-a") == every, peer.name
        r = peer.docker("build", "-t", app, ctx)
        assert r.stdout.count(" ---> Using cache") == 4, (peer.name, r.stdout)

        # a new last step: the old top dangles, alone
        write_tree(ctx, {"Dockerfile": dockerfile.format("c")})
        peer.docker("build", "-t", app, ctx)
        assert _ids(peer, mark, "--filter", "dangling=true") == {top}, peer.name
        out = peer.docker("image", "prune", "-f", "--filter", f"label=mark={mark}").stdout
        assert _deleted(out) == ["", "Deleted Images:", "deleted: ID", "deleted: ID"], (peer.name, out)
        assert top not in _ids(peer, mark, "-a") and len(_ids(peer, mark, "-a")) == 4, peer.name

    # rmi of the top takes its untagged parents, down to the base (tagged)
    outs = [_deleted(p.docker("rmi", app).stdout) for p in both]
    assert outs[0] == outs[1] and outs[0].count("Deleted: ID") == 6, outs  # 4 images, the 2 RUNs' layers
    for peer in both:
        assert _ids(peer, mark, "-a") == set(), peer.name

        # prune -a: a top no container uses goes, with its parents
        peer.docker("build", "-t", app, ctx)
        out = peer.docker("image", "prune", "-a", "-f", "--filter", f"label=mark={mark}").stdout
        assert _deleted(out).count("deleted: ID") == 6 and f"untagged: {app}" in out, (peer.name, out)
        assert _ids(peer, mark, "-a") == set(), peer.name
        peer.docker("image", "inspect", base)
