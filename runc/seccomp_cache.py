"""Compile each distinct seccomp profile once: libseccomp's BPF kept on disk by content.

Building a filter for Docker's default profile costs ~20 ms in libseccomp (rules) plus
~17 ms more to generate its BPF (which seccomp_load does again in every container's
init). Both are the same for every container with the same linux.seccomp object, so the
program libseccomp would load is exported once, stored under the runtime's root as
`@seccomp/<sha256>.bpf` ('@' is not allowed in a container id, so no container's state
directory can clash), and later containers load those bytes with seccomp(2) directly.

The key covers the profile's JSON (canonical), libseccomp's version, the kernel
release and how the program is laid out (seccomp.py's binary tree): the BPF libseccomp
emits depends on all of them. The root lives on tmpfs (/run),
so a reboot or a libseccomp upgrade starts afresh.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import platform

from berth.runc import libc, seccomp

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

CACHE_DIR = "@seccomp"
_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277, "ppc64le": 358, "s390x": 348, "riscv64": 277}
_SECCOMP_SET_MODE_FILTER = 1
# OCI flag -> SECCOMP_FILTER_FLAG_* of seccomp(2)
_KERNEL_FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2,
                 "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4}


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class BpfFilter:
    """A compiled program (struct sock_filter[] bytes) that load() installs for this thread
    and its future children, as seccomp_load would. A plain class: see seccomp.SeccompFilter."""

    __slots__ = ("program", "flags", "rules", "_args")

    def __init__(self, program: bytes, flags: int, rules: int = 0) -> None:
        self.program = program
        self.flags = flags
        self.rules = rules
        self._args: tuple[Any, ...] | None = None

    def prepare(self) -> None:
        """Build the syscall's arguments now (its buffer, sock_fprog, libc's syscall), so
        that load() makes only the call: an exec's parent prepares, its child loads (the
        building cost ~0.5 ms in every forked child)."""
        if self._args is not None:
            return
        nr = _SYS_SECCOMP.get(platform.machine())
        if nr is None:
            raise seccomp.SeccompError("seccomp: no seccomp(2) number for this architecture")
        buf = ctypes.create_string_buffer(self.program, len(self.program))
        prog = _SockFprog(len(self.program) // 8, ctypes.cast(buf, ctypes.c_void_p))
        self._args = (libc.syscall, ctypes.c_long(nr), ctypes.c_long(_SECCOMP_SET_MODE_FILTER),
                      ctypes.c_long(self.flags), ctypes.byref(prog), buf, prog)  # buf, prog: kept alive

    def load(self) -> None:
        self.prepare()
        call, nr, mode, flags, ref = self._args[:5]  # type: ignore[index]
        rc = call(nr, mode, flags, ref)
        if rc != 0:
            code = ctypes.get_errno()
            raise seccomp.SeccompError(f"error loading seccomp filter into kernel: {_lower(os.strerror(code))}")

    def release(self) -> None:
        """Nothing is held outside Python (the same interface as SeccompFilter)."""


def _key(sec: dict[str, Any]) -> str:
    lib = seccomp._libseccomp()
    lib.seccomp_version.restype = ctypes.c_void_p
    ver = ctypes.cast(lib.seccomp_version(), ctypes.POINTER(ctypes.c_uint * 3)).contents
    text = json.dumps(sec, sort_keys=True, separators=(",", ":"))
    salt = f"{tuple(ver)}|{platform.release()}|{platform.machine()}|tree|"  # tree: seccomp.py's optimize level
    return hashlib.sha256((salt + text).encode()).hexdigest()


def compiled(sec: dict[str, Any], root: str) -> BpfFilter:
    """The filter for `sec`, from the cache under `root` or compiled (and then cached)."""
    flags = 0
    for flag in sec.get("flags") or []:
        if flag not in _KERNEL_FLAGS:
            raise seccomp.SeccompError(f"seccomp flags {flag!r} not yet supported by runc")
        flags |= _KERNEL_FLAGS[flag]
    path = os.path.join(root, CACHE_DIR, _key(sec) + ".bpf")
    try:
        with open(path, "rb") as f:
            return BpfFilter(f.read(), flags)
    except FileNotFoundError:
        pass
    filt = seccomp.compile_filter(sec)
    try:
        program = _export(filt)
    finally:
        filt.release()
    _store(path, program)
    return BpfFilter(program, flags, filt.rules)


def _export(filt: seccomp.SeccompFilter) -> bytes:
    lib = seccomp._libseccomp()
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
    try:
        rc = lib.seccomp_export_bpf(filt._ctx, fd)
        if rc < 0:
            raise seccomp.SeccompError(f"error exporting seccomp filter: {_lower(os.strerror(-rc))}")
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _store(path: str, program: bytes) -> None:
    """Atomically (rename), so a concurrent create reads either nothing or all of it."""
    os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(program)
        os.rename(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]
