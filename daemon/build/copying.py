"""COPY and ADD: the sources (in the context, or files exported from another stage or
image) as one tar of what the layer must hold, named by where it goes in the image,
plus a hash of their content for the cache (names, types, modes, bytes; no times).

Docker's rules: a directory source copies its contents; several sources, or a
destination ending in `/`, make the destination a directory; a relative destination
is under WORKDIR; ADD unpacks a local tar archive (plain, gzip, bzip2, xz) into the
destination and fetches a URL. Files are owned by root unless --chown says otherwise
(berth-containerd applies it, against the image's passwd); --chmod sets the mode.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
import posixpath
import tarfile
import tempfile
from dataclasses import dataclass

from . import words
from .dockerfile import Instruction
from .steps import Stage, StepError

_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


@dataclass
class Sources:
    paths: list[tuple[str, str]]   # (host path, path in the image) of each top-level source
    dest_dir: bool
    archives: set[str]             # host paths of ADD's local archives (extracted)


def arguments(ins: Instruction, stage: Stage, escape: str, scratch: str) -> tuple[list[str], set[str]]:
    """The instruction's words, heredocs written out as files in `scratch` (and those files)."""
    args = list(ins.json) if ins.json is not None else words.expand_words(ins.rest, stage.env(), escape)
    by_token: dict[str, str] = {}
    if ins.heredocs:
        for h in ins.heredocs:
            path = os.path.join(scratch, "heredoc", h.name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            text = words.expand(h.content, stage.env(), escape) if h.expand and "$" in h.content else h.content
            with open(path, "w") as f:
                f.write(text)
            by_token[h.name] = path
        out = []
        for a in args:
            name = a.lstrip("<-").strip("'\"")
            out.append(by_token[name] if a.startswith("<<") and name in by_token else a)
        args = out
    if len(args) < 2:
        raise StepError(f"{ins.cmd} requires at least two arguments, but only one was provided. "
                        "Destination could not be determined.")
    return args, set(by_token.values())


def destination(dest: str, stage: Stage) -> str:
    workdir = stage.config.get("WorkingDir") or "/"
    full = posixpath.join(workdir, dest)
    norm = posixpath.normpath(full)
    return norm + "/" if dest.endswith("/") or dest in (".", "..") or dest.endswith("/.") else norm


def is_archive(path: str) -> bool:
    with open(path, "rb") as f:
        head = f.read(262)
    return head.startswith(_ARCHIVE_MAGIC) or head[257:262] == b"ustar"


def resolve(cmd: str, srcs: list[str], dest: str, root: str, add: bool, local: frozenset[str] = frozenset()
            ) -> Sources:
    """Each source inside `root` (globs expanded), and whether dest is a directory.
    `local`: host paths already made for this step (heredocs, fetched URLs)."""
    found: list[str] = []
    for src in srcs:
        if src in local:
            found.append(src)
            continue
        rel = posixpath.normpath(src.lstrip("/")) if src.strip("/") else "."
        if rel == ".." or rel.startswith("../"):
            raise StepError(f"Forbidden path outside the build context: {src} ()")
        if any(c in rel for c in "*?["):
            hits = sorted(glob.glob(rel, root_dir=root, recursive=False))
            hits = [h for h in hits if fnmatch.fnmatch(h, rel)]
            found += [os.path.join(root, h) for h in hits]
            continue
        path = os.path.join(root, rel)
        if not os.path.lexists(path):
            raise StepError(f"{cmd} failed: file not found in build context or excluded by .dockerignore: "
                            f"stat {src}: file does not exist")
        found.append(path)
    if not found:
        raise StepError(f"{cmd} failed: no source files were specified")
    dest_dir = dest.endswith("/") or len(found) > 1
    archives = {p for p in found if add and p not in local and os.path.isfile(p) and is_archive(p)}
    paths = []
    for p in found:
        if os.path.isdir(p) and not os.path.islink(p):
            dest_dir = dest_dir or True
            paths.append((p, dest.rstrip("/") or "/"))
        elif p in archives:
            paths.append((p, dest.rstrip("/") or "/"))
        else:
            target = posixpath.join(dest, os.path.basename(p)) if dest_dir else dest
            paths.append((p, target))
    return Sources(paths, dest_dir, archives)


class _Builder:
    """Writes the tar, or (out = "") only hashes what it would hold: a cache hit needs no tar."""

    def __init__(self, out: str, chmod: int | None) -> None:
        self.tar = tarfile.open(out or os.devnull, "w", format=tarfile.PAX_FORMAT)
        self.write = bool(out)
        self.hash = hashlib.sha256()
        self.chmod = chmod

    def _note(self, info: tarfile.TarInfo, digest: str = "") -> None:
        self.hash.update(f"{info.name}\0{info.type!r}\0{info.mode:o}\0{info.linkname}\0{digest}\0"
                         f"{info.uid}:{info.gid}\n".encode())

    def add_path(self, host: str, name: str) -> None:
        info = self.tar.gettarinfo(host, name.lstrip("/") or ".")
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        if self.chmod is not None and (info.isreg() or info.isdir()):
            info.mode = self.chmod
        if info.isreg():
            h = hashlib.sha256()
            with open(host, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            self._note(info, h.hexdigest())
            if self.write:
                with open(host, "rb") as f:
                    self.tar.addfile(info, f)
        else:
            self._note(info)
            if self.write:
                self.tar.addfile(info)

    def add_tree(self, host: str, name: str) -> None:
        for dirpath, dirs, files in os.walk(host):
            dirs.sort()
            rel = os.path.relpath(dirpath, host)
            base = name if rel == "." else posixpath.join(name, rel)
            if rel != ".":
                self.add_path(dirpath, base)
            for entry in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]:
                self.add_path(os.path.join(dirpath, entry), posixpath.join(base, entry))

    def add_archive(self, host: str, name: str) -> None:
        try:
            with tarfile.open(host, "r:*") as src:
                for m in src:
                    norm = posixpath.normpath(m.name.lstrip("/"))
                    if norm in (".", "") or norm.startswith("../") or norm == "..":
                        continue
                    m.name = posixpath.join(name.lstrip("/"), norm)
                    if m.islnk():
                        m.linkname = posixpath.join(name.lstrip("/"), posixpath.normpath(m.linkname.lstrip("/")))
                    data = src.extractfile(m) if m.isreg() else None
                    digest = hashlib.sha256(data.read()).hexdigest() if data else ""
                    if data:
                        data.seek(0)
                    self._note(m, digest)
                    if self.write:
                        self.tar.addfile(m, data)
        except (tarfile.TarError, EOFError) as e:
            raise StepError(f"ADD failed: {os.path.basename(host)}: not a valid archive: {e}") from None

    def close(self) -> str:
        self.tar.close()
        return self.hash.hexdigest()


def layer_tar(sources: Sources, chmod_flag: str, scratch: str, write: bool = True) -> tuple[str, str]:
    """(path of the tar to apply, hash of its content); without `write`, ("", hash)."""
    chmod = None
    if chmod_flag:
        try:
            chmod = int(chmod_flag, 8)
        except ValueError:
            raise StepError(f"invalid chmod parameter: {chmod_flag}") from None
    out = ""
    if write:
        fd, out = tempfile.mkstemp(suffix=".tar", dir=scratch)
        os.close(fd)
    b = _Builder(out, chmod)
    for host, name in sources.paths:
        if host in sources.archives:
            b.add_archive(host, name)
        elif os.path.isdir(host) and not os.path.islink(host):
            b.add_tree(host, name)
        else:
            b.add_path(host, name)
    return out, b.close()
