"""Images berth builds run anywhere OCI images run: a multi-stage build using RUN,
COPY --chown/--chmod, ENV, USER, WORKDIR, EXPOSE, CMD, HEALTHCHECK and VOLUME is
pushed by `berth push` to Debian's docker-registry on 127.0.0.1, then pulled and run
by Debian's dockerd and by podman (each shows the config berth built and prints what
berth's own run prints), and read by skopeo and umoci (files, owners, modes as built)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests import podman as private_podman
from tests.build.conftest import berth, write_tree

DOCKERFILE = """FROM busybox AS build
WORKDIR /src
COPY greeting.txt app.sh ./
RUN mkdir /out && sed 's/NAME/berth/' greeting.txt > /out/greeting && cp app.sh /out/app.sh

FROM busybox
ENV GREETING_FILE=/srv/greeting APP_MODE=interop
COPY --from=build --chown=1000:1000 --chmod=640 /out/greeting /srv/greeting
COPY --chown=nobody:nogroup --chmod=755 app.sh /srv/app.sh
RUN mkdir -p /data /srv/logs && chown 1000:1000 /data /srv/logs && echo made-by-run > /srv/run.txt
WORKDIR /srv
USER 1000:1000
EXPOSE 8080/tcp 9090/udp
VOLUME /data
HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD test -f /srv/greeting
CMD ["sh", "/srv/app.sh"]
"""
APP = """#!/bin/sh
echo "$(cat "$GREETING_FILE") mode=$APP_MODE id=$(id -u):$(id -g) pwd=$(pwd)"
stat -c '%n %u:%g %a' /srv/greeting /srv/app.sh /srv/run.txt /srv/logs /data
cat /srv/run.txt
"""
EXPECTED = """hello from berth mode=interop id=1000:1000 pwd=/srv
/srv/greeting 1000:1000 640
/srv/app.sh 65534:65534 755
/srv/run.txt 0:0 644
/srv/logs 1000:1000 755
/data 1000:1000 755
made-by-run
"""
CONFIG_KEYS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Healthcheck",
               "Labels", "StopSignal")
HEALTHCHECK = {"Test": ["CMD-SHELL", "test -f /srv/greeting"], "Interval": 30_000_000_000,
               "Timeout": 5_000_000_000, "Retries": 2}


@dataclass
class Built:
    ref: str            # where it was pushed: 127.0.0.1:PORT/interop-xxxx:v1
    image: dict         # berth's image inspect
    history: list[str]  # its history's CreatedBy, newest first


@pytest.fixture(scope="module")
def built(engine, registry) -> Iterator[Built]:
    ctx = tempfile.mkdtemp(prefix="berth-interop-ctx-")
    try:
        write_tree(ctx, {"Dockerfile": DOCKERFILE, "app.sh": APP, "greeting.txt": "hello from NAME\n"})
        ref = f"{registry.host}/interop-{uuid.uuid4().hex[:8]}:v1"
        r = berth(engine, "build", "-t", ref, ctx)
        assert r.returncode == 0, r.stdout + r.stderr
        r = berth(engine, "push", ref)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "v1: digest: sha256:" in r.stdout
        with engine.client() as api:
            image = api.get(f"/images/{ref}/json").json()
            history = [h["CreatedBy"] for h in api.get(f"/images/{ref}/history").json()]
        yield Built(ref, image, history)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)


def _config(cfg: dict) -> dict:
    return {k: cfg.get(k) or None for k in CONFIG_KEYS}


def test_berth_runs_what_it_built(engine, built):
    cfg = built.image["Config"]
    assert cfg["User"] == "1000:1000" and cfg["WorkingDir"] == "/srv"
    assert cfg["ExposedPorts"] == {"8080/tcp": {}, "9090/udp": {}} and cfg["Volumes"] == {"/data": {}}
    assert cfg["Healthcheck"] == HEALTHCHECK and cfg["Cmd"] == ["sh", "/srv/app.sh"]
    assert "GREETING_FILE=/srv/greeting" in cfg["Env"] and "APP_MODE=interop" in cfg["Env"]
    r = berth(engine, "run", "--rm", "--network", "none", built.ref)
    assert (r.returncode, r.stdout) == (0, EXPECTED), r.stderr


def test_dockerd_pulls_and_runs_it(built, dockerd):
    r = dockerd.docker("pull", built.ref, timeout=300)
    assert r.returncode == 0, r.stderr
    image = json.loads(dockerd.docker("image", "inspect", built.ref).stdout)[0]
    assert image["Id"] == built.image["Id"]  # the same config, byte for byte
    assert image["RootFS"]["Layers"] == built.image["RootFS"]["Layers"]
    assert _config(image["Config"]) == _config(built.image["Config"])
    with dockerd.client() as c:
        theirs = [h["CreatedBy"] for h in c.get(f"/images/{built.ref}/history").json()]
    assert theirs == built.history
    r = dockerd.docker("run", "--rm", "--network", "none", built.ref, timeout=300)
    assert (r.returncode, r.stdout) == (0, EXPECTED), r.stderr


@pytest.fixture(scope="module")
def podman() -> Iterator[private_podman.Podman]:
    if not shutil.which("podman"):
        pytest.fail("podman is missing: scripts/install-deps --test installs it")
    p = private_podman.start()
    try:
        yield p
    finally:
        p.close()
    assert private_podman.leftovers(p) == []


def test_podman_pulls_and_runs_it(built, podman):
    r = podman.podman("pull", "--tls-verify=false", built.ref)
    assert r.returncode == 0, r.stderr
    image = json.loads(podman.podman("image", "inspect", built.ref).stdout)[0]
    assert "sha256:" + image["Id"] == built.image["Id"]
    assert image["RootFS"]["Layers"] == built.image["RootFS"]["Layers"]
    cfg = image["Config"]
    assert cfg["User"] == "1000:1000" and cfg["WorkingDir"] == "/srv" and cfg["Cmd"] == ["sh", "/srv/app.sh"]
    assert cfg["ExposedPorts"] == {"8080/tcp": {}, "9090/udp": {}} and cfg["Volumes"] == {"/data": {}}
    assert cfg["Env"] == built.image["Config"]["Env"]
    # podman reads the HealthCheck only under docker's schema2 manifest, which berth pushes, as dockerd
    assert image["ManifestType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert (image.get("Healthcheck") or {}).get("Test") == HEALTHCHECK["Test"], image
    r = podman.run(built.ref)
    assert (r.returncode, r.stdout) == (0, EXPECTED), r.stderr


def test_skopeo_and_umoci_read_it(built, tmp_path):
    r = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{built.ref}"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["Digest"] == built.image["RepoDigests"][0].split("@")[1]
    assert len(info["Layers"]) == len(built.image["RootFS"]["Layers"])
    r = subprocess.run(["skopeo", "inspect", "--config", "--raw", "--tls-verify=false", f"docker://{built.ref}"],
                       capture_output=True, text=True, timeout=120)
    oci_cfg = json.loads(r.stdout)  # the config blob as pushed
    assert oci_cfg["config"]["Healthcheck"] == HEALTHCHECK
    assert oci_cfg["config"]["User"] == "1000:1000" and oci_cfg["config"]["WorkingDir"] == "/srv"
    assert oci_cfg["rootfs"]["diff_ids"] == built.image["RootFS"]["Layers"]
    layout = os.path.join(tmp_path, "layout")
    r = subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{built.ref}",
                        f"oci:{layout}:interop"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    bundle = os.path.join(tmp_path, "bundle")
    r = subprocess.run(["umoci", "unpack", "--image", f"{layout}:interop", bundle], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rootfs = os.path.join(bundle, "rootfs")
    seen = {}
    for rel in ("srv/greeting", "srv/app.sh", "srv/run.txt", "srv/logs", "data"):
        st = os.lstat(os.path.join(rootfs, rel))
        seen[rel] = (st.st_uid, st.st_gid, oct(st.st_mode & 0o7777))
    assert seen == {"srv/greeting": (1000, 1000, "0o640"), "srv/app.sh": (65534, 65534, "0o755"),
                    "srv/run.txt": (0, 0, "0o644"), "srv/logs": (1000, 1000, "0o755"),
                    "data": (1000, 1000, "0o755")}
    with open(os.path.join(rootfs, "srv/greeting")) as f:
        assert f.read() == "hello from berth\n"
    with open(os.path.join(rootfs, "srv/app.sh")) as f:
        assert f.read() == APP
    assert not os.path.exists(os.path.join(rootfs, "src"))  # the build stage is not in the image
    with open(os.path.join(bundle, "config.json")) as f:
        spec = json.load(f)
    assert spec["process"]["user"]["uid"] == 1000 and spec["process"]["user"]["gid"] == 1000
    assert spec["process"]["cwd"] == "/srv" and spec["process"]["args"] == ["sh", "/srv/app.sh"]
    assert "APP_MODE=interop" in spec["process"]["env"]
