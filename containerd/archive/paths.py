"""A path of docker cp, resolved inside the container's root the way dockerd resolves it.

docker's rules (moby's ResolvePath and StatPath): the path is taken from "/" and keeps
a trailing "/" or "/."; every component but the last is followed (symlinks included,
in the container's scope), the last only with a trailing "/" or "/."; the stat's name is
the path's last element as given, and a symlink's linkTarget is where it leads, as an
absolute container path. Every open is openat2(RESOLVE_IN_ROOT) from the root's fd, so
no symlink (not even one the container swaps in meanwhile) reaches the host's files.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat as st
from dataclasses import dataclass

from ..diff.confined import openat2_in_root
from ..errors import NotFound

_MAX_LINKS = 255  # as the kernel's and Go's limits on symlinks followed in one lookup


@dataclass
class Entry:
    """What a path names: its parent directory (an O_PATH fd, the caller closes it),
    its name in that parent ("" when it is that directory itself) and its lstat."""
    dir_fd: int
    base: str
    stat: os.stat_result
    name: str  # the stat's and the archive's name (docker's filepath.Base of the path)
    abs_path: str


def absolute(path: str) -> str:
    """docker's PreserveTrailingDotOrSeparator(filepath.Join("/", path), path)."""
    cleaned = "/" + posixpath.normpath("/" + path).lstrip("/")
    if (path == "." or path.endswith("/.")) and not cleaned.endswith("/."):
        cleaned = cleaned.rstrip("/") + "/."
    if path.endswith("/") and not cleaned.endswith("/"):
        cleaned += "/"
    return cleaned


def base_name(abs_path: str) -> str:
    """Go's filepath.Base: the last element, trailing slashes ignored; "/" for the root."""
    trimmed = abs_path.rstrip("/")
    return trimmed.rpartition("/")[2] if trimmed else "/"


def _rel(path: str) -> str:
    rel = path.strip("/")
    return rel or "."


def lookup(root_fd: int, path: str) -> Entry:
    """The entry `path` names; NotFound (docker's 404) if there is none."""
    abs_path = absolute(path)
    parent, _, base = abs_path.rpartition("/")
    try:
        dir_fd = openat2_in_root(root_fd, _rel(parent), os.O_PATH | os.O_DIRECTORY)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            raise NotFound(f"no such file or directory: {path}") from None
        raise
    try:
        if base in ("", "."):
            info = os.fstat(dir_fd)
            base = ""
        else:
            info = os.stat(base, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        os.close(dir_fd)
        raise NotFound(f"no such file or directory: {path}") from None
    except BaseException:
        os.close(dir_fd)
        raise
    return Entry(dir_fd, base, info, base_name(abs_path), abs_path)


def link_target(root_fd: int, abs_path: str) -> str:
    """Where a symlink leads, resolved in the container's scope like moby's
    FollowSymlinkInScope (a dangling target still resolves, lexically): only for
    display, nothing is opened through it but the directories already resolved."""
    done: list[str] = []
    todo = [p for p in abs_path.split("/") if p]
    links = 0
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        try:
            parent = openat2_in_root(root_fd, "/".join(done) or ".", os.O_PATH | os.O_DIRECTORY)
        except OSError:
            done.append(part)  # a component that is not a directory: the rest is lexical
            continue
        try:
            target = os.readlink(part, dir_fd=parent)
        except OSError:
            done.append(part)  # not a symlink, or not there
            continue
        finally:
            os.close(parent)
        links += 1
        if links > _MAX_LINKS:
            raise NotFound(f"too many levels of symbolic links: {abs_path}")
        if target.startswith("/"):
            done = []
        todo = [p for p in target.split("/") if p] + todo
    return "/" + "/".join(done)


def is_dir(info: os.stat_result) -> bool:
    return st.S_ISDIR(info.st_mode)
