"""berth cp: docker cp's path rules over the archive API (HEAD/GET/PUT /containers/{id}/archive).

The rules are the docker CLI's (moby's archive.CopyInfo*, PrepareArchiveCopy): a
trailing "/." copies a directory's contents, a directory copied onto a missing path
takes that path's name, a file onto a directory goes inside it, onto a file replaces
it; `-` is a tar stream on stdin or stdout. Local extraction refuses entries that would
leave the destination (Python's tar filter, plus docker's "invalid symlink" rule), never
chowns (docker's NoLchown) and never replaces a directory by a file or back.
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import sys
import tarfile
import threading
from dataclasses import dataclass
from typing import Iterator

from berth.client.api import DaemonError
from berth.client.flags import Parsed
from berth.client.main import Context

_GO_DIR, _GO_SYMLINK = 1 << 31, 1 << 27
_GO_TYPE = _GO_DIR | _GO_SYMLINK | (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19)


class CopyError(Exception):
    pass


@dataclass
class Info:
    path: str
    exists: bool = False
    is_dir: bool = False
    rebase: str = ""


def _current_dir(path: str) -> bool:
    return path == "." or path.endswith("/.")


def preserve(cleaned: str, original: str) -> str:
    """moby's PreserveTrailingDotOrSeparator."""
    if _current_dir(original) and not _current_dir(cleaned):
        cleaned = cleaned.rstrip("/") + "/."
    if original.endswith("/") and not cleaned.endswith("/"):
        cleaned += "/"
    return cleaned


def split_entry(path: str) -> tuple[str, str]:
    """moby's SplitPathDirEntry: (directory, last element), "." kept."""
    cleaned = posixpath.normpath(path)
    if _current_dir(path):
        cleaned = cleaned.rstrip("/") + "/."
    return posixpath.dirname(cleaned) or ".", posixpath.basename(cleaned) or "/"


def human(n: float) -> str:
    """go-units HumanSizeWithPrecision(n, 3): decimal units."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.3g}{units[i]}"


def split_arg(arg: str) -> tuple[str, str]:
    """CONTAINER:PATH or a local path (absolute, or ./x:y to keep a colon local)."""
    if arg.startswith("/"):
        return "", arg
    ctr, colon, path = arg.partition(":")
    if not colon or ctr.startswith("."):
        return "", arg
    return ctr, path


def _stat(ctx: Context, container: str, path: str) -> dict:
    stream = ctx.client().stream("HEAD", f"/containers/{container}/archive", {"path": path})
    try:
        raw = stream.resp.header("X-Docker-Container-Path-Stat")
    finally:
        stream.close()
    return json.loads(base64.b64decode(raw)) if raw else {}


def _rebased(name: str, old: str, new: str) -> str:
    if old == "/":
        return new.rstrip("/") + "/" + name.lstrip("/") if name.strip("/") else new
    if name == old:
        return new
    if name.startswith(old + "/"):
        return new + name[len(old):]
    return name


def cmd_cp(ctx: Context, parsed: Parsed) -> int:
    src, dst = parsed.args
    if not src:
        ctx.err("source can not be empty\n")
        return 1
    if not dst:
        ctx.err("destination can not be empty\n")
        return 1
    src_ctr, src_path = split_arg(src)
    dst_ctr, dst_path = split_arg(dst)
    quiet = parsed.opts["quiet"] or not os.isatty(1)
    try:
        if src_ctr and dst_ctr:
            raise CopyError("copying between containers is not supported")
        if src_ctr:
            return _from_container(ctx, src_ctr, src_path, dst_path, parsed.opts["follow_link"], quiet)
        if dst_ctr:
            return _to_container(ctx, dst_ctr, src_path, dst_path, parsed.opts["follow_link"],
                                 parsed.opts["archive"], quiet)
        raise CopyError("must specify at least one container source")
    except CopyError as e:
        ctx.err(f"{e}\n")
        return 1
    except OSError as e:
        ctx.err(f"{e.strerror or e}: {e.filename}\n" if e.filename else f"{e}\n")
        return 1
    except tarfile.TarError as e:
        ctx.err(f"{e}\n")
        return 1


# ------------------------------------------------------------ out of a container
def _from_container(ctx: Context, ctr: str, src: str, dst: str, follow: bool, quiet: bool) -> int:
    if dst != "-":
        dst = preserve(os.path.abspath(dst), dst)
        _validate_output(dst)
    rebase = ""
    if follow:
        try:
            st = _stat(ctx, ctr, src)
        except DaemonError:
            st = {}
        if st.get("mode", 0) & _GO_SYMLINK:
            target = st["linkTarget"]
            if not target.startswith("/"):
                target = posixpath.join(split_entry(src)[0], target)
            target = preserve(target, src)
            if posixpath.basename(target.rstrip("/")) != posixpath.basename(src.rstrip("/")):
                rebase = posixpath.basename(src.rstrip("/"))
            src = target
    stream = ctx.client().stream("GET", f"/containers/{ctr}/archive", {"path": src})
    try:
        raw = stream.resp.header("X-Docker-Container-Path-Stat")
        st = json.loads(base64.b64decode(raw)) if raw else {}
        if dst == "-":
            sys.stdout.flush()
            for piece in stream:
                sys.stdout.buffer.write(piece)
            sys.stdout.buffer.flush()
            return 0
        counted = _Counting(iter(stream))
        src_info = Info(src, True, bool(st.get("mode", 0) & _GO_DIR), rebase)
        _copy_to_local(counted, src_info, dst)
    finally:
        stream.close()
    if not quiet:
        size = counted.n if src_info.is_dir else st.get("size", 0)
        ctx.err(_summary(size, counted.n, dst))
    return 0


def _summary(content: int, transferred: int, dest: str) -> str:
    if content != transferred:
        return f"Successfully copied {human(content)} (transferred {human(transferred)}) to {dest}\n"
    return f"Successfully copied {human(content)} to {dest}\n"


def _validate_output(path: str) -> None:
    parent = os.path.dirname(os.path.normpath(path))
    if parent and parent != "." and not os.path.exists(parent):
        raise CopyError(f'invalid output path: directory "{parent}" does not exist')
    if os.path.exists(path) and not (os.path.isdir(path) or os.path.isfile(path)):
        raise CopyError(f'invalid output path: "{path}" must be a directory or a regular file')


class _Counting:
    """The tar pieces as a file for tarfile, counting the bytes transferred."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self.pieces, self.buf, self.n = pieces, b"", 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buf) < size:
            piece = next(self.pieces, None)
            if piece is None:
                break
            self.n += len(piece)
            self.buf += piece
        out, self.buf = (self.buf, b"") if size < 0 else (self.buf[:size], self.buf[size:])
        return out


def _destination(path: str) -> Info:
    """moby's CopyInfoDestinationPath: a symlink at the destination is followed."""
    for _ in range(11):
        if not os.path.islink(path):
            break
        target = os.readlink(path)
        path = target if target.startswith("/") else os.path.join(split_entry(path)[0], target)
    else:
        raise CopyError(f"too many symlinks in {path}")
    if os.path.lexists(path):
        return Info(path, True, os.path.isdir(path))
    parent = split_entry(path)[0]
    if not os.path.exists(parent):
        raise CopyError(f"stat {parent}: no such file or directory")
    if not os.path.isdir(parent):
        raise CopyError("not a directory")
    return Info(path)


def prepare(src: Info, dst: Info) -> tuple[str, str, str]:
    """moby's PrepareArchiveCopy: (directory to extract into, old base, new base); equal bases: no rebase."""
    dst_dir, dst_base = split_entry(dst.path)
    src_base = src.rebase or split_entry(src.path)[1]
    if dst.exists and dst.is_dir:
        return dst.path, src_base, src_base
    if dst.exists and src.is_dir:
        raise CopyError("cannot copy directory")
    if not dst.exists and not src.is_dir and (dst.path.endswith("/") or _current_dir(dst.path)):
        raise CopyError("no such directory")
    return dst_dir, src_base, dst_base


def _copy_to_local(content: _Counting, src: Info, dst_path: str) -> None:
    dst = _destination(dst_path)
    into, old, new = prepare(src, dst)
    # the archive's entries are named from the requested base: rebase them to the link's
    if src.rebase:
        old = split_entry(src.path)[1]
    root = os.path.realpath(into)

    def keep(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
        name = _rebased(member.name, old, new) if old != new else member.name
        member = tarfile.tar_filter(member.replace(name=name, deep=False), path)
        if member.issym() and not member.linkname.startswith("/"):
            where = os.path.normpath(os.path.join(root, os.path.dirname(member.name), member.linkname))
            if where != root and not where.startswith(root + "/"):
                raise CopyError(f'invalid symlink "{os.path.join(root, member.name)}" -> "{member.linkname}"')
        if member.islnk():
            member = member.replace(linkname=_rebased(member.linkname, old, new), deep=False)
        target = os.path.join(root, member.name)
        if os.path.lexists(target) and os.path.normpath(target) != root:
            was_dir = os.path.isdir(target) and not os.path.islink(target)
            if was_dir and not member.isdir():
                raise CopyError(f'cannot overwrite directory "{target}" with non-directory "{root}"')
            if not was_dir and member.isdir():
                raise CopyError(f'cannot overwrite non-directory "{target}" with directory "{root}"')
        return member.replace(uid=None, gid=None, uname=None, gname=None, deep=False)  # never chown

    with tarfile.open(fileobj=content, mode="r|") as tar:  # type: ignore[call-overload]
        tar.extractall(root, filter=keep)


# ------------------------------------------------------------- into a container
def _to_container(ctx: Context, ctr: str, src: str, dst: str, follow: bool, archive: bool, quiet: bool) -> int:
    if src != "-":
        src = preserve(os.path.abspath(src), src)
    dst_info = Info(dst)
    try:
        st = _stat(ctx, ctr, dst)
        if st.get("mode", 0) & _GO_SYMLINK:
            dst_info.path = st["linkTarget"]
            st = _stat(ctx, ctr, dst_info.path)
        mode = st.get("mode", 0)
        if mode & _GO_TYPE and not mode & _GO_DIR:
            raise CopyError(f'destination "{ctr}:{dst}" must be a directory or a regular file')
        dst_info.exists, dst_info.is_dir = True, bool(mode & _GO_DIR)
    except DaemonError:
        pass  # as docker: the parent may still exist, the extraction says
    query = {"path": "", "copyUIDGID": "true" if archive else None}
    if src == "-":
        if not dst_info.is_dir:
            raise CopyError(f'destination "{ctr}:{dst}" must be a directory')
        query["path"] = dst_info.path
        ctx.client().call("PUT", f"/containers/{ctr}/archive", query, _stdin(),
                          {"Content-Type": "application/x-tar"})
        return 0
    src_info = _source(src, follow)
    into, old, new = prepare(src_info, dst_info)
    query["path"] = into
    counter = [0]
    body = _tar_of(src_info, new if old != new else (src_info.rebase or split_entry(src_info.path)[1]), counter)
    ctx.client().call("PUT", f"/containers/{ctr}/archive", query, body, {"Content-Type": "application/x-tar"})
    if not quiet:
        ctx.err(_summary(_content_size(src_info.path), counter[0], f"{ctr}:{dst_info.path}"))
    return 0


def _stdin() -> Iterator[bytes]:
    while data := sys.stdin.buffer.read1(1 << 16):
        yield data


def _source(path: str, follow: bool) -> Info:
    """moby's CopyInfoSourcePath: only a trailing "/" (or -L) follows the last symlink."""
    if follow:
        resolved = preserve(os.path.realpath(path), path)
        if not os.path.lexists(resolved):
            raise CopyError(f"lstat {resolved}: no such file or directory")
        rebase = posixpath.basename(path.rstrip("/")) if os.path.basename(resolved.rstrip("/")) != \
            os.path.basename(path.rstrip("/")) else ""
        return Info(resolved, True, os.path.isdir(resolved), rebase)
    parent, base = os.path.split(path)
    resolved = os.path.join(os.path.realpath(parent or "."), base)
    if not os.path.lexists(resolved if base else resolved.rstrip("/") or "/"):
        raise CopyError(f"lstat {resolved}: no such file or directory")
    is_dir = os.path.isdir(resolved) if (base == "" or not os.path.islink(resolved)) else False
    rebase = os.path.basename(path.rstrip("/")) if path.endswith("/") and \
        os.path.basename(os.path.realpath(path)) != os.path.basename(path.rstrip("/")) else ""
    return Info(resolved, True, is_dir, rebase)


def _content_size(path: str) -> int:
    if not os.path.isdir(path):
        return os.lstat(path).st_size if os.path.isfile(path) and not os.path.islink(path) else 0
    total = 0
    for top, _dirs, files in os.walk(path):
        for f in files:
            p = os.path.join(top, f)
            if os.path.isfile(p) and not os.path.islink(p):
                total += os.lstat(p).st_size
    return total


def _tar_of(src: Info, name: str, counter: list[int]) -> Iterator[bytes]:
    """The local source as a tar stream (a thread writes it into a pipe), its top entry `name`."""
    r, w = os.pipe()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with os.fdopen(w, "wb") as out, tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                tar.add(src.path.rstrip("/") if src.path != "/" else "/", arcname=name)
        except BaseException as e:  # noqa: BLE001 - handed to the reader
            errors.append(e)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    with os.fdopen(r, "rb") as f:
        while data := f.read1(1 << 20):
            counter[0] += len(data)
            yield data
    t.join()
    if errors:
        raise CopyError(str(errors[0]))
