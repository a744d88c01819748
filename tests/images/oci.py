"""OCI image layouts made in Python, for skopeo to push into the test registry.

Layers are built from (name, kind, data) entries and compressed as asked (gzip,
zstd or plain); a run of random bytes makes a layer nobody else has, so every test
pulls something no earlier test cached.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from dataclasses import dataclass, field

import zstandard

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = {"tar": "application/vnd.oci.image.layer.v1.tar", "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
         "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}
BUSYBOX = "/bin/busybox"


def tar_bytes(entries: list[tuple]) -> bytes:
    """entries: (name, "file", bytes[, mode]) | (name, "dir") | (name, "sym"|"lnk", target) | (name, "chr")."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e[0])
            info.mtime = 1_700_000_000
            kind = e[1]
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind in ("sym", "lnk"):
                info.type, info.linkname = (tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE), e[2]
                tar.addfile(info)
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
                tar.addfile(info)
            else:
                data = e[2]
                info.size, info.mode = len(data), (e[3] if len(e) > 3 else 0o644)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def busybox_entries(message: str) -> list[tuple]:
    with open(BUSYBOX, "rb") as f:
        binary = f.read()
    return [("bin", "dir"), ("bin/busybox", "file", binary, 0o755), ("bin/sh", "sym", "busybox"),
            ("bin/cat", "sym", "busybox"), ("bin/echo", "sym", "busybox"),
            ("hello.txt", "file", message.encode())]


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data, compresslevel=1, mtime=0)  # same bytes every time
    if how == "zstd":
        return zstandard.ZstdCompressor(level=1).compress(data)
    return data


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Layer:
    tar: bytes
    how: str = "gzip"

    @property
    def blob(self) -> bytes:
        return compress(self.tar, self.how)


@dataclass
class Layout:
    """An OCI image layout directory: blobs/sha256/, index.json, oci-layout."""

    path: str
    refs: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        os.makedirs(os.path.join(self.path, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(self.path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

    def blob(self, data: bytes, media_type: str) -> dict:
        d = digest(data)
        with open(os.path.join(self.path, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(data)
        return {"mediaType": media_type, "digest": d, "size": len(data)}

    def image(self, layers: list[Layer], cmd: list[str], arch: str = "amd64", os_: str = "linux",
              diff_ids: list[str] | None = None) -> dict:
        """Blobs, config and manifest of one image; returns the manifest's descriptor."""
        descs = [self.blob(layer.blob, LAYER[layer.how]) for layer in layers]
        config = {"architecture": arch, "os": os_, "created": "2024-01-01T00:00:00Z",
                  "config": {"Cmd": cmd, "Env": ["PATH=/bin"]},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids or [digest(x.tar) for x in layers]}}
        cdesc = self.blob(json.dumps(config).encode(), OCI_CONFIG)
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc, "layers": descs}
        mdesc = self.blob(json.dumps(manifest).encode(), OCI_MANIFEST)
        return {**mdesc, "platform": {"architecture": arch, "os": os_}}

    def index(self, manifests: list[dict]) -> dict:
        body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        return self.blob(json.dumps(body).encode(), OCI_INDEX)

    def tag(self, desc: dict, name: str) -> None:
        entry = {k: v for k, v in desc.items() if k != "platform"}
        self.refs.append({**entry, "annotations": {"org.opencontainers.image.ref.name": name}})
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": self.refs}, f)


def push(layout: Layout, tag: str, dest: str, all_platforms: bool = False) -> None:
    """skopeo copy oci:LAYOUT:TAG docker://DEST, layers as they are (no recompression)."""
    cmd = ["skopeo", "copy", "-q", "--dest-tls-verify=false", "--preserve-digests"]
    if all_platforms:
        cmd.append("--all")
    subprocess.run([*cmd, f"oci:{layout.path}:{tag}", f"docker://{dest}"], check=True, capture_output=True,
                   timeout=300)
