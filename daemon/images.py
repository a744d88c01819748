"""Images as the API shows them, `docker import` (tar + --change), and the two images
berthd makes offline from the host's busybox so that a fresh install runs at once."""

from __future__ import annotations

import io
import json
import logging
import re
import shlex
import subprocess
import tarfile
from typing import Any, AsyncIterator

from berth.common.timefmt import ZERO_TIME, parse_rfc3339_nano

from .ctrd import Ctrd, api_error, call_kwargs, is_not_found, pb
from .errors import ApiError, bad_request, no_such_image, normalize_ref

log = logging.getLogger("berthd.images")

BUSYBOX = "/bin/busybox"
_CHUNK = 1 << 20
_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")

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


_PATH_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
BUILTIN = {
    "busybox:latest": (busybox_tar, {"Env": _PATH_ENV, "Cmd": ["sh"]}),
    "hello-world:latest": (hello_tar, {"Env": _PATH_ENV, "Cmd": ["/hello"]}),
}


async def ensure_builtin(ctrd: Ctrd) -> None:
    for name, (make, config) in BUILTIN.items():
        try:
            await ctrd.images.Get(pb.GetImageRequest(ref=name), **call_kwargs())
            continue
        except Exception as e:  # noqa: BLE001 - anything but "missing" is a real failure
            if not is_not_found(e):
                raise
        image = await import_bytes(ctrd, name, config, make())
        log.info("made image %s (%s)", name, image.id)


async def import_bytes(ctrd: Ctrd, name: str, config: dict[str, Any], data: bytes) -> pb.Image:
    async def chunks() -> AsyncIterator[pb.ImportRequest]:
        yield pb.ImportRequest(name=name, config=json.dumps(config).encode())
        for i in range(0, len(data), _CHUNK):
            yield pb.ImportRequest(chunk=data[i:i + _CHUNK])

    return await ctrd.images.Import(chunks(), **call_kwargs(None))


# ------------------------------------------------------------------- import API

def import_name(repo: str, tag: str) -> str:
    """repo (which may carry its own :tag) and tag as one "name:tag", or "" (untagged)."""
    if not repo:
        return ""
    last = repo.rsplit("/", 1)[-1]
    if ":" in last and not tag:
        repo, tag = repo.rsplit(":", 1)
    tag = tag or "latest"
    if not _REPO.match(repo) or not _TAG.match(tag):
        raise bad_request("invalid reference format" + (
            ": repository name must be lowercase" if repo.lower() != repo else ""))
    return f"{repo}:{tag}"


def _json_or_shell(rest: str) -> list[str]:
    rest = rest.strip()
    if rest.startswith("["):
        try:
            value = json.loads(rest)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
        except ValueError:
            pass
    return ["/bin/sh", "-c", rest]


def _pairs(rest: str) -> list[tuple[str, str]]:
    """KEY=VALUE ... (quotes allowed), or the old `KEY VALUE` form."""
    words = shlex.split(rest)
    if words and "=" not in words[0]:
        return [(words[0], rest.strip()[len(words[0]):].strip())]
    return [tuple(w.split("=", 1)) if "=" in w else (w, "") for w in words]  # type: ignore[misc]


def apply_changes(changes: list[str]) -> dict[str, Any]:
    """`docker import --change` Dockerfile instructions as image config fields."""
    config: dict[str, Any] = {}
    for change in changes:
        instr, _, rest = change.strip().partition(" ")
        instr = instr.upper()
        if not rest.strip():
            raise bad_request(f"{instr} requires at least one argument")
        if instr in ("CMD", "ENTRYPOINT"):
            config["Cmd" if instr == "CMD" else "Entrypoint"] = _json_or_shell(rest)
        elif instr == "ENV":
            env = config.setdefault("Env", list(_PATH_ENV))
            for k, v in _pairs(rest):
                env[:] = [e for e in env if e.split("=", 1)[0] != k] + [f"{k}={v}"]
        elif instr == "LABEL":
            config.setdefault("Labels", {}).update(dict(_pairs(rest)))
        elif instr == "WORKDIR":
            config["WorkingDir"] = rest.strip()
        elif instr == "USER":
            config["User"] = rest.strip()
        elif instr == "STOPSIGNAL":
            config["StopSignal"] = rest.strip()
        elif instr == "EXPOSE":
            ports = config.setdefault("ExposedPorts", {})
            for p in rest.split():
                ports[p if "/" in p else p + "/tcp"] = {}
        elif instr == "VOLUME":
            vols = config.setdefault("Volumes", {})
            for v in (_json_or_shell(rest) if rest.strip().startswith("[") else rest.split()):
                vols[v] = {}
        else:
            raise bad_request(f"{instr} is not a valid change command")
    return config


# ------------------------------------------------------------------ lookups, JSON

def _looks_like_id(ref: str) -> bool:
    return bool(re.fullmatch(r"(sha256:)?[0-9a-f]{4,64}", ref))


async def resolve(ctrd: Ctrd, ref: str) -> pb.Image:
    candidates = [ref] if _looks_like_id(ref) else []
    candidates.append(normalize_ref(ref))
    for cand in candidates:
        try:
            return await ctrd.images.Get(pb.GetImageRequest(ref=cand), **call_kwargs())
        except Exception as e:  # noqa: BLE001
            if not is_not_found(e):
                raise api_error(e)
    raise no_such_image(ref)


def image_config(image: pb.Image) -> dict[str, Any]:
    try:
        return json.loads(image.config or b"{}")
    except ValueError:
        return {}


def _container_config(cfg: dict[str, Any]) -> dict[str, Any]:
    c = cfg.get("config") or {}
    return {
        "Hostname": "", "Domainname": "", "User": c.get("User", ""), "AttachStdin": False,
        "AttachStdout": False, "AttachStderr": False, "ExposedPorts": c.get("ExposedPorts"),
        "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": c.get("Env"),
        "Cmd": c.get("Cmd"), "Image": "", "Volumes": c.get("Volumes"),
        "WorkingDir": c.get("WorkingDir", ""), "Entrypoint": c.get("Entrypoint"),
        "OnBuild": None, "Labels": c.get("Labels"), "StopSignal": c.get("StopSignal"),
    }


def inspect_json(image: pb.Image) -> dict[str, Any]:
    cfg = image_config(image)
    return {
        "Id": image.id,
        "RepoTags": list(image.names),
        "RepoDigests": [],
        "Parent": "",
        "Comment": cfg.get("comment", ""),
        "Created": image.created or cfg.get("created") or ZERO_TIME,
        "DockerVersion": "",
        "Author": cfg.get("author", ""),
        "Config": _container_config(cfg),
        "Architecture": cfg.get("architecture", "amd64"),
        "Os": cfg.get("os", "linux"),
        "Size": image.size,
        "GraphDriver": {"Name": "overlayfs", "Data": None},
        "RootFS": {"Type": "layers", "Layers": list(image.layers)},
        "Metadata": {"LastTagTime": ZERO_TIME},
    }


def summary_json(image: pb.Image) -> dict[str, Any]:
    cfg = image_config(image)
    created = image.created or cfg.get("created") or ""
    try:
        created_unix = parse_rfc3339_nano(created) // 1_000_000_000 if created else 0
    except ValueError:
        created_unix = 0
    return {
        "Containers": -1,
        "Created": created_unix,
        "Id": image.id,
        "Labels": (cfg.get("config") or {}).get("Labels") or {},
        "ParentId": "",
        "RepoDigests": [],
        "RepoTags": list(image.names),
        "SharedSize": -1,
        "Size": image.size,
    }


def reraise(e: Exception) -> ApiError:
    return e if isinstance(e, ApiError) else api_error(e)
