"""The image events a user's story leaves in `docker events`, on berth and on Debian's
dockerd side by side: tag, push, untag, pull, save, load, import, delete, and commit's
container event — the same actions with the same actors and names, in the same order."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable

from tests.daemon.conftest import Berthd
from tests.images.registry import Registry

Docker = Callable[..., subprocess.CompletedProcess]


def _story(docker: Docker, ref: str, work: str) -> list[dict]:
    """What a user does with images; returns the image events and container commits it made."""
    os.makedirs(f"{work}/root", exist_ok=True)
    with open(f"{work}/root/f", "w") as f:
        f.write("imported\n")
    subprocess.run(["tar", "-C", f"{work}/root", "-cf", f"{work}/root.tar", "."], check=True)
    start = time.time()
    for args in (["tag", "busybox:latest", ref], ["push", ref], ["rmi", ref], ["pull", ref],
                 ["save", "-o", f"{work}/saved.tar", ref], ["rmi", ref], ["load", "-i", f"{work}/saved.tar"],
                 ["import", f"{work}/root.tar", "imported:1"], ["rmi", "imported:1"],
                 ["run", "--name", "committed", "busybox", "true"], ["commit", "committed", "committed:1"],
                 ["rm", "committed"], ["rmi", "committed:1"], ["rmi", ref]):
        r = docker(*args)
        assert r.returncode == 0, (args, r.stderr)
    until = str(time.time() + 1)
    out = docker("events", "--since", str(start), "--until", until, "--format", "{{json .}}").stdout
    return [e for e in map(json.loads, out.splitlines())
            if e["Type"] == "image" or e["Action"] == "commit"]


def _normal(events: list[dict], registry: str) -> list[tuple]:
    """Ids become their order of appearance (the engines' image ids differ for import and commit)."""
    ids: dict[str, str] = {}

    def norm(text: str) -> str:
        text = re.sub(r"sha256:[0-9a-f]{64}|\b[0-9a-f]{64}\b", lambda m: ids.setdefault(m[0], f"<id{len(ids)}>"),
                      text)
        return text.replace(registry, "<registry>")

    return [(e["Type"], e["Action"], norm(e["Actor"]["ID"]),
             {k: norm(v) for k, v in e["Actor"]["Attributes"].items()}) for e in events]


def test_image_events_are_dockers(engine: Berthd, dockerd, registry: Registry) -> None:
    work = tempfile.mkdtemp(prefix="berth-image-events-")
    try:
        env = {**os.environ, "DOCKER_HOST": engine.host}

        def on_berth(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=300)

        r = on_berth("save", "-o", f"{work}/busybox.tar", "busybox:latest")  # the same image in both
        assert r.returncode == 0, r.stderr
        assert dockerd.docker("load", "-i", f"{work}/busybox.tar").returncode == 0
        ref = f"{registry.host}/events-{uuid.uuid4().hex[:6]}/busybox:1"
        ours = _normal(_story(on_berth, ref, f"{work}/berth"), registry.host)
        theirs = _normal(_story(dockerd.docker, ref, f"{work}/docker"), registry.host)
        assert ours == theirs, "\n".join(map(str, ours + ["---"] + theirs))
        assert [a for _, a, _, _ in ours] == ["tag", "push", "untag", "pull", "save", "untag", "load", "tag",
                                             "import", "untag", "delete", "tag", "commit", "untag", "delete",
                                             "untag"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
