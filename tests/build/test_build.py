"""docker build through berth: the seed's example, multi-stage with --target, the
cache, .dockerignore, RUN forms, ENV/ARG substitution, the image inspected, through
berth's CLI, the docker CLI (classic builder) and the API."""

from __future__ import annotations

import json
import uuid

from tests.build.conftest import berth, write_tree


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


SEED = """FROM busybox
LABEL author=someone@example.com
ADD app.sh /app/app.sh
EXPOSE 8080
CMD ["sh", "/app/app.sh"]
"""
APP = "#!/bin/sh\necho 'hello from the app' > /tmp/index.html\nexec httpd -f -p 8080 -h /tmp\n"


def test_seed_app_builds_and_runs(engine, api, ctx):
    write_tree(ctx, {"Dockerfile": SEED, "app.sh": APP})
    name = _name("spc") + ":1.0"
    r = berth(engine, "build", "-t", name, ".", cwd=ctx)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Step 1/5 : FROM busybox"
    assert "Step 3/5 : ADD app.sh /app/app.sh" in lines
    assert lines[-2].startswith("Successfully built ")
    assert lines[-1] == f"Successfully tagged {name}"
    img = api.get(f"/images/{name}/json").json()
    cfg = img["Config"]
    assert cfg["Labels"] == {"author": "someone@example.com"}
    assert cfg["ExposedPorts"] == {"8080/tcp": {}}
    assert cfg["Cmd"] == ["sh", "/app/app.sh"]
    base = api.get("/images/busybox/json").json()
    assert img["RootFS"]["Layers"][:len(base["RootFS"]["Layers"])] == base["RootFS"]["Layers"]
    assert len(img["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
    hist = api.get(f"/images/{name}/history").json()
    assert any("ADD" in h["CreatedBy"] for h in hist) and any("EXPOSE 8080" in h["CreatedBy"] for h in hist)
    r = berth(engine, "run", "--rm", name, "cat", "/app/app.sh")
    assert r.returncode == 0 and r.stdout == APP, r.stderr


MULTI = """ARG BASE=busybox
FROM ${BASE} AS builder
ARG GREETING=hi
ENV OUT=/out
RUN mkdir -p $OUT && echo "${GREETING:-none} ${UNSET:-dflt} ${GREETING:+set}" > $OUT/msg
RUN ["sh", "-c", "echo exec-form >> /out/msg"]

FROM busybox AS unused
RUN echo this stage must not be built && false

FROM busybox AS final
COPY --from=builder /out/msg /msg
WORKDIR /srv
USER nobody
ENTRYPOINT ["cat"]
CMD ["/msg"]
"""


def test_multistage_target_args_and_cache(engine, api, ctx):
    write_tree(ctx, {"Dockerfile": MULTI})
    name = _name("multi")
    r = berth(engine, "build", "--target", "final", "--build-arg", "GREETING=hello", "-t", name, ctx)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "this stage must not be built" not in r.stdout
    assert "Step 1/" in r.stdout and "/12 :" not in r.stdout  # the unused stage's steps are not counted
    img = api.get(f"/images/{name}/json").json()
    assert img["Config"]["Entrypoint"] == ["cat"] and img["Config"]["WorkingDir"] == "/srv"
    assert img["Config"]["User"] == "nobody"
    out = engine.docker("run", "--rm", name)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "hello dflt set\nexec-form\n"
    layers = img["RootFS"]["Layers"]
    # the same build again: every step from the cache, no new layer, the same image
    r2 = berth(engine, "build", "--target", "final", "--build-arg", "GREETING=hello", "-t", name, ctx)
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout.count(" ---> Using cache") >= 8
    assert "Running in" not in r2.stdout
    img2 = api.get(f"/images/{name}/json").json()
    assert img2["Id"] == img["Id"] and img2["RootFS"]["Layers"] == layers
    # another build arg: the RUN that sees it runs again
    r3 = berth(engine, "build", "--target", "builder", "--build-arg", "GREETING=other", "-q", ctx)
    assert r3.returncode == 0, r3.stderr
    assert r3.stdout.strip().startswith("sha256:") and len(r3.stdout.strip().splitlines()) == 1
    out = engine.docker("run", "--rm", r3.stdout.strip(), "cat", "/out/msg")
    assert out.stdout.startswith("other dflt set\n")


def test_dockerignore_copy_chown_chmod(engine, api, ctx):
    write_tree(ctx, {
        "Dockerfile": "FROM busybox\nCOPY --chown=nobody:nogroup --chmod=750 . /app/\nRUN ls -lnR /app\n",
        ".dockerignore": "*.log\nsecret/\n!keep.log\n",
        "a.txt": "a", "b.log": "b", "keep.log": "k", "secret/key": "s", "sub/deep/c.txt": "c",
    })
    name = _name("ignore")
    r = berth(engine, "build", "-t", name, ctx)
    assert r.returncode == 0, r.stdout + r.stderr
    out = engine.docker("run", "--rm", name, "find", "/app").stdout.split()
    assert sorted(out) == sorted(["/app", "/app/a.txt", "/app/keep.log", "/app/sub", "/app/sub/deep",
                                  "/app/sub/deep/c.txt", "/app/Dockerfile", "/app/.dockerignore"])
    stat = engine.docker("run", "--rm", name, "stat", "-c", "%u:%g %a", "/app/a.txt").stdout
    assert stat == "65534:65534 750\n"


def test_docker_cli_classic_build(engine, api, ctx):
    write_tree(ctx, {"Dockerfile": "FROM busybox\nRUN echo built-by-docker > /x\n"
                                   "HEALTHCHECK --interval=5s CMD true\nSTOPSIGNAL SIGINT\nVOLUME /data\n",
                     "f": "f"})
    name = _name("dockercli")
    env = {**engine.env, "DOCKER_BUILDKIT": "0"}
    import subprocess

    r = subprocess.run(["docker", "build", "-t", name, "--label", "via=docker", ctx], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Step 1/6 : FROM busybox" in r.stdout and "built-by-docker" not in r.stdout.split("Step 3")[1]
    assert f"Successfully tagged {name}:latest" in r.stdout
    img = json.loads(engine.docker("image", "inspect", name).stdout)[0]
    assert img["Config"]["Labels"] == {"via": "docker"}
    assert img["Config"]["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000}
    assert img["Config"]["StopSignal"] == "SIGINT" and img["Config"]["Volumes"] == {"/data": {}}
    assert engine.docker("run", "--rm", name, "cat", "/x").stdout == "built-by-docker\n"


def _containers(api) -> set[str]:
    return {c["Id"] for c in api.get("/containers/json", params={"all": 1}).json()}


def test_bad_input(engine, api, ctx):
    before = _containers(api)
    write_tree(ctx, {"Dockerfile": "FROM busybox\nFOO bar\n"})
    r = berth(engine, "build", "-t", "bad:1", ctx)
    assert r.returncode == 1
    assert "dockerfile parse error line 2: unknown instruction: FOO" in r.stderr
    write_tree(ctx, {"Dockerfile": "FROM busybox\nCOPY missing.txt /x\n"})
    r = berth(engine, "build", "-t", "bad:1", ctx)
    assert r.returncode == 1
    assert "COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt" in r.stderr
    write_tree(ctx, {"Dockerfile": "FROM busybox\nRUN echo before && false\n"})
    r = berth(engine, "build", "-t", "bad:1", ctx)
    assert r.returncode == 1
    assert "before" in r.stdout
    assert r.stderr == "The command '/bin/sh -c echo before && false' returned a non-zero code: 1\n"
    write_tree(ctx, {"Dockerfile": "FROM busybox\nRUN false\n"})
    r = berth(engine, "build", "-t", "bad:1", ctx)
    assert r.stderr == "The command '/bin/sh -c false' returned a non-zero code: 1\n"
    r = berth(engine, "build", "--target", "nope", "-t", "bad:1", ctx)
    assert r.returncode == 1 and "failed to reach build target nope in Dockerfile" in r.stderr
    assert api.get("/images/bad:1/json").status_code == 404  # no tag applied
    assert _containers(api) == before  # nothing left behind
    with open("/proc/mounts") as f:
        assert not [m for m in f if "apply-" in m or "export-" in m]
    r = api.post("/build", params={"version": "2"}, content=b"")
    assert r.status_code == 400 and "BuildKit" in r.json()["message"]
    # what berth's builder cannot do is refused, not ignored
    r = api.post("/build", params={"rm": "0"}, content=b"")
    assert r.status_code == 400 and "rm=false" in r.json()["message"]
    assert api.post("/build/prune", params={"filters": '{"until":["24h"]}'}).status_code == 400
    write_tree(ctx, {"Dockerfile": "FROM busybox\nCOPY --link a.txt /a\n", "a.txt": "a"})
    r = berth(engine, "build", "-t", "bad:1", ctx)
    assert r.returncode == 1 and "Unknown flag: link" in r.stderr
