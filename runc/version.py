"""`berth-runc --version`: runc's lines (version, commit, spec, go, libseccomp) with berth's own facts.

runc 1.1.5 prints `runc version 1.1.5`, `commit: ...`, `spec: 1.0.2-dev`, `go: go1.19.8`,
`libseccomp: 2.5.4`; berth-runc prints its version, the commit of the tree it runs
from (the version when there is none), the OCI spec version it implements, the
Python in place of Go, and the libseccomp it loads for seccomp filters.
"""

from __future__ import annotations

import os


def version_text() -> str:
    """runc's --version lines (version, commit, spec, go, libseccomp), with berth's own facts."""
    import platform

    from berth.common import VERSION
    from berth.runc.record import OCI_VERSION

    lines = [f"berth-runc version {VERSION}", f"commit: {_commit() or VERSION}", f"spec: {OCI_VERSION}",
             f"python: {platform.python_version()}"]
    seccomp = _libseccomp_version()
    if seccomp:
        lines.append(f"libseccomp: {seccomp}")  # runc leaves the line out without the library
    return "\n".join(lines) + "\n"


def _commit() -> str:
    """The git commit of the source tree we run from (a checkout or worktree), or ""."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        gitdir = os.path.join(top, ".git")
        if os.path.isfile(gitdir):  # a worktree: "gitdir: PATH"
            with open(gitdir) as f:
                gitdir = f.read().split(":", 1)[1].strip()
        with open(os.path.join(gitdir, "HEAD")) as f:
            head = f.read().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        common = gitdir
        if os.path.isfile(os.path.join(gitdir, "commondir")):
            with open(os.path.join(gitdir, "commondir")) as f:
                common = os.path.normpath(os.path.join(gitdir, f.read().strip()))
        for base in (gitdir, common):
            if os.path.isfile(os.path.join(base, ref)):
                with open(os.path.join(base, ref)) as f:
                    return f.read().strip()
        with open(os.path.join(common, "packed-refs")) as f:
            for line in f:
                if line.rstrip().endswith(" " + ref):
                    return line.split()[0]
    except (OSError, IndexError):
        pass
    return ""


def _libseccomp_version() -> str:
    try:
        import ctypes

        lib = ctypes.CDLL("libseccomp.so.2")
        lib.seccomp_version.restype = ctypes.POINTER(ctypes.c_uint * 3)
        major, minor, micro = lib.seccomp_version().contents
    except (OSError, AttributeError, ValueError):
        return ""
    return f"{major}.{minor}.{micro}"
