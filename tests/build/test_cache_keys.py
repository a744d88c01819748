"""COPY's cache key, taken from the context's index as it uploads: a change under the
sources (content, mode, a new file) misses the cache, a change elsewhere in the context
does not; a source reached through a symlink is judged by the files it leads to."""

from __future__ import annotations

import os
import uuid

from tests.build.conftest import berth, write_tree

DOCKERFILE = "FROM busybox\nCOPY link/t /l/t\nCOPY src /src\nRUN cat /src/a /l/t\n"


def _build(engine, ctx: str, name: str) -> str:
    r = berth(engine, "build", "-t", name, ctx)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _copies_cached(out: str) -> list[bool]:
    """For each COPY step, whether it came from the cache."""
    steps = out.split("Step ")[1:]
    return [" ---> Using cache" in s for s in steps if " : COPY " in s]


def test_copy_cache_follows_the_sources_content(engine, ctx):
    write_tree(ctx, {"Dockerfile": DOCKERFILE, "src/a": "one\n", "src/b": "b\n", "other.txt": "x",
                     "target/t": "t1\n"})
    os.symlink("target", os.path.join(ctx, "link"))
    name = f"keys-{uuid.uuid4().hex[:8]}"
    first = _build(engine, ctx, name)
    assert "one\nt1\n" in first
    assert _copies_cached(_build(engine, ctx, name)) == [True, True]
    write_tree(ctx, {"other.txt": "y"})  # outside every source
    assert _copies_cached(_build(engine, ctx, name)) == [True, True]
    write_tree(ctx, {"src/a": "two\n"})  # same size, other bytes
    out = _build(engine, ctx, name)
    assert _copies_cached(out) == [True, False] and "two\nt1\n" in out
    os.chmod(os.path.join(ctx, "src", "b"), 0o600)
    assert _copies_cached(_build(engine, ctx, name)) == [True, False]
    write_tree(ctx, {"src/new": "n"})
    assert _copies_cached(_build(engine, ctx, name)) == [True, False]
    write_tree(ctx, {"target/t": "t2\n"})  # behind the symlink: the disk's key
    out = _build(engine, ctx, name)
    assert _copies_cached(out) == [False, False] and "two\nt2\n" in out
    engine.docker("rmi", name)
