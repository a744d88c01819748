"""The two images berthd makes offline from the host's busybox, so that a fresh install
runs `berth run hello-world` and `berth run busybox` at once."""

from __future__ import annotations

import io
import logging
import subprocess
import tarfile
from typing import AsyncIterator

from ..libcontainerd import Containerd, ContainerdError

log = logging.getLogger("berthd.images")

BUSYBOX = "/bin/busybox"
_CHUNK = 1 << 20
PATH_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]

HELLO = """
Hello from berth!
This message shows that your installation appears to be working correctly.

To generate this message, berth took the following steps:
 1. Your client (berth, or docker, or anything that speaks the Docker Engine
    API) sent the request over a unix socket to berthd, the daemon.
 2. berthd asked berth-containerd, over gRPC, to create a container from the
    "hello-world" image, which berthd built offline from the host's busybox.
 3. berth-containerd gave the container its own overlayfs root and started a
    berth-shim for it, which holds the container's output and exit status and
    outlives both daemons.
 4. berth-shim had berth-runc, the OCI runtime, set up namespaces, mounts and
    cgroups and start this program as the container's PID 1.
 5. berth-shim wrote this output to the container's log, and berthd streamed it
    back to your client, which printed it to your terminal.

To try something more ambitious, you can run a shell with:
 $ berth run -it busybox sh
"""


# --------------------------------------------------------------- built-in images

def _tar(entries: list[tuple[str, str, bytes | str, int]]) -> bytes:
    """A deterministic tar: sorted names, fixed mtimes and owners, so ids are stable."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data, mode in sorted(entries):
            info = tarfile.TarInfo(name)
            info.mtime, info.mode, info.uid, info.gid = 0, mode, 0, 0
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, str(data)
                tar.addfile(info)
            else:
                payload = data if isinstance(data, bytes) else data.encode()
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def _busybox_entries(applets: list[str]) -> list[tuple[str, str, bytes | str, int]]:
    with open(BUSYBOX, "rb") as f:
        binary = f.read()
    entries: list[tuple[str, str, bytes | str, int]] = [
        ("bin", "dir", b"", 0o755), ("bin/busybox", "file", binary, 0o755)]
    # Relative links: Debian's `busybox --install -s` points at /usr/bin/busybox.
    entries += [(f"bin/{a}", "link", "busybox", 0o777) for a in applets if a != "busybox"]
    for d, mode in (("dev", 0o755), ("etc", 0o755), ("proc", 0o555), ("sys", 0o555),
                    ("tmp", 0o1777), ("root", 0o700), ("var", 0o755), ("home", 0o755)):
        entries.append((d, "dir", b"", mode))
    entries.append(("etc/passwd", "file", "root:x:0:0:root:/root:/bin/sh\n"
                    "nobody:x:65534:65534:nobody:/home:/bin/false\n", 0o644))
    entries.append(("etc/group", "file", "root:x:0:\nnogroup:x:65534:\n", 0o644))
    return entries


def busybox_tar() -> bytes:
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    return _tar(_busybox_entries(applets))


def hello_tar() -> bytes:
    entries = _busybox_entries(["sh", "cat"])
    script = "#!/bin/sh\ncat <<'EOF'\n" + HELLO + "EOF\n"
    entries.append(("hello", "file", script, 0o755))
    return _tar(entries)

BUILTIN = {
    "busybox:latest": (busybox_tar, {"Env": PATH_ENV, "Cmd": ["sh"]}),
    "hello-world:latest": (hello_tar, {"Env": PATH_ENV, "Cmd": ["/hello"]}),
}


async def ensure_builtin(ctrd: Containerd) -> None:
    for name, (make, config) in BUILTIN.items():
        try:
            await ctrd.get_image(name)
            continue
        except ContainerdError as e:  # anything but "missing" is a real failure
            if not e.not_found:
                raise
        data = make()

        async def pieces(data: bytes = data) -> AsyncIterator[bytes]:
            for i in range(0, len(data), _CHUNK):
                yield data[i:i + _CHUNK]

        image = await ctrd.import_image(name, config, pieces())
        log.info("made image %s (%s)", name, image.id)
