"""Copy-up: a new, empty volume mounted over a path the image fills gets the image's
content there first, as dockerd does (unless the mount says nocopy).

berthd names those destinations in an annotation of the spec; this runs once the
container's rootfs is mounted and before the runtime mounts anything on it. The
image's path is opened inside the rootfs with openat2(RESOLVE_IN_ROOT): a symlink in
the image resolves as the container would see it, never to the host's files. The
copy is `cp -a` (owners, modes, times, xattrs, links as they are) from that fd."""

from __future__ import annotations

import json
import logging
import os
import subprocess
from typing import Any

from ..diff.confined import openat2_in_root

COPYUP = "org.berth.volumes.copyup"  # daemon/volumes/oci.py writes it
log = logging.getLogger("berth.containerd.copyup")


def fill(spec: dict[str, Any], rootfs: str) -> None:
    """Each listed volume that is empty gets the image's directory at its destination."""
    raw = (spec.get("annotations") or {}).get(COPYUP)
    if not raw:
        return
    sources = {m.get("destination"): m.get("source") for m in spec.get("mounts") or []}
    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for dest in json.loads(raw):
            volume = sources.get(dest)
            if volume and os.path.isdir(volume) and not os.listdir(volume):
                _copy(root, dest, volume)
    finally:
        os.close(root)


def _copy(root: int, dest: str, volume: str) -> None:
    try:
        fd = openat2_in_root(root, dest.lstrip("/") or ".", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return  # not in the image, or not a directory: nothing to copy
    try:
        if not os.listdir(fd):  # dockerd's copyOwnership: an empty directory still gives its owner and mode
            st = os.fstat(fd)
            os.chown(volume, st.st_uid, st.st_gid)
            os.chmod(volume, st.st_mode & 0o7777)
            return
        # the fd is the directory itself; cp reads it through /proc/self/fd
        done = subprocess.run(["cp", "-a", "--", f"/proc/self/fd/{fd}/.", volume + "/"], pass_fds=(fd,),
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise OSError(f"copy-up of {dest} into its volume: {done.stderr.strip()}")
    finally:
        os.close(fd)
