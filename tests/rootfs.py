"""Test rootfs and bundles made offline from the host's busybox-static.

Debian's `busybox --install -s` links to /usr/bin/busybox (usrmerge), which a
rootfs of its own does not have, so the applet links here are relative.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

BUSYBOX = "/bin/busybox"

def make_rootfs(path: str) -> str:
    """A minimal busybox root: /bin/busybox, an applet link for each command, /etc basics."""
    bin_dir = os.path.join(path, "bin")
    os.makedirs(bin_dir, exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(bin_dir, "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        link = os.path.join(bin_dir, applet)
        if applet != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    for d in ("etc", "proc", "sys", "dev", "tmp", "root"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    with open(os.path.join(path, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    with open(os.path.join(path, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    return path


def runc_spec() -> dict:
    """The default config.json of Debian's runc (`runc spec`), our oracle's own default."""
    out = subprocess.run(["runc", "spec", "--bundle", "/dev/null"], capture_output=True)
    if out.returncode == 0 and out.stdout:
        return json.loads(out.stdout)
    tmp = f"/tmp/berth-spec-{uuid.uuid4().hex[:8]}"
    os.makedirs(tmp)
    try:
        subprocess.run(["runc", "spec", "--bundle", tmp], check=True)
        with open(os.path.join(tmp, "config.json")) as f:
            return json.load(f)
    finally:
        shutil.rmtree(tmp)


def make_bundle(path: str, args: list[str], *, rootfs: str | None = None, **overrides) -> str:
    """A bundle at `path` running `args` with runc's default config and a unique cgroupsPath.

    `rootfs` reuses an existing root (bind-free: config.json points at it); keyword
    overrides are merged into the top level of the spec.
    """
    os.makedirs(path, exist_ok=True)
    spec = runc_spec()
    spec["process"]["args"] = args
    spec["process"]["terminal"] = False
    spec["linux"]["cgroupsPath"] = f"/berth-test-{uuid.uuid4().hex[:12]}"
    if rootfs is None:
        make_rootfs(os.path.join(path, "rootfs"))
        spec["root"]["path"] = "rootfs"
    else:
        spec["root"]["path"] = rootfs
    spec.update(overrides)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(spec, f, indent=2)
    return path


def import_tar(client: httpx.Client, tar: str, repo: str, *more_changes: str) -> None:
    """A rootfs tarball imported into an engine (berthd or dockerd) as REPO:latest, with
    PATH set as busybox needs it (and `more_changes`, Dockerfile instructions)."""
    changes = "&".join("changes=" + urllib.parse.quote(c)
                       for c in ("ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin", *more_changes))
    with open(tar, "rb") as f:
        r = client.post(f"/images/create?fromSrc=-&repo={repo}&tag=latest&{changes}", content=f.read(),
                        headers={"Content-Type": "application/x-tar"})
    assert r.status_code == 200 and b'"error' not in r.content, r.text
