"""OCI linux.seccomp through libseccomp, with runc 1.1's semantics.

A tiny ctypes binding of our own rather than pyseccomp: it is on the container
start path (pyseccomp costs ~17 ms to import, this ~1 ms once ctypes is loaded), and
it needs only seven libseccomp calls.

compile_filter() runs before pivot_root (libseccomp.so must be loaded from the
host's filesystem); SeccompFilter.load() right before execve. Loading needs
no_new_privs or CAP_SYS_ADMIN, like runc's (which leaves NNP to the spec).

Known differences from runc 1.1: no -ENOSYS stub for syscalls newer than the
profile (runc patches the BPF for that), and SCMP_ACT_NOTIFY / listenerPath are
refused rather than served.
"""

from __future__ import annotations

import ctypes
import errno
import os
TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

_ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,  # KILL_THREAD
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
}
_WITH_RET = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")

_OPS = {
    "SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7,
}

# OCI flag -> libseccomp filter attribute (seccomp.h enum scmp_filter_attr).
_FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 4,  # SCMP_FLTATR_CTL_TSYNC
    "SECCOMP_FILTER_FLAG_LOG": 6,  # SCMP_FLTATR_CTL_LOG
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 7,  # SCMP_FLTATR_CTL_SSB
}
_ATTR_CTL_NNP = 3
_ATTR_CTL_OPTIMIZE = 8  # libseccomp >= 2.5; 2: the syscalls as a binary tree, not a chain
_SCMP_ERROR = -1  # __NR_SCMP_ERROR
_MAX_ARGS = 6


class SeccompError(Exception):
    """Invalid profile or libseccomp failure; str(e) is a one-line message."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


_lib: ctypes.CDLL | None = None


def _libseccomp() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2")
        except OSError as e:
            raise SeccompError(f"seccomp: libseccomp is not available: {e}") from e
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                               ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        _lib = lib
    return _lib


class SeccompFilter:
    """A compiled filter held by libseccomp until load() hands it to the kernel.

    A plain class, not a dataclass: `dataclasses` pulls in `inspect` (~6 ms) on
    the container start path.
    """

    __slots__ = ("_ctx", "rules")

    def __init__(self, ctx: int, rules: int = 0) -> None:
        self._ctx = ctx
        self.rules = rules  # how many libseccomp rules were added (for tests and debugging)

    def __repr__(self) -> str:
        return f"SeccompFilter(_ctx={self._ctx!r}, rules={self.rules!r})"

    def prepare(self) -> None:
        """Nothing to build ahead (the same interface as seccomp_cache.BpfFilter)."""

    def load(self) -> None:
        rc = _libseccomp().seccomp_load(self._ctx)
        if rc < 0:
            raise SeccompError(f"error loading seccomp filter into kernel: {_strerror(-rc)}")

    def release(self) -> None:
        """Free libseccomp's copy (the loaded kernel filter stays); safe to call twice."""
        if self._ctx:
            _libseccomp().seccomp_release(self._ctx)
            self._ctx = 0


def compile_filter(seccomp: dict[str, Any]) -> SeccompFilter:
    """Build the filter for an OCI linux.seccomp object, in runc's order and with its rules."""
    lib = _libseccomp()
    default = _action(seccomp.get("defaultAction", ""), seccomp.get("defaultErrnoRet"))
    if seccomp.get("listenerPath"):
        raise SeccompError("seccomp: listenerPath (SCMP_ACT_NOTIFY) is not supported")
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise SeccompError("seccomp: error creating filter")
    filt = SeccompFilter(ctx)
    try:
        for arch in seccomp.get("architectures") or []:
            token = lib.seccomp_arch_resolve_name(_arch_name(arch).encode())
            if token == 0:
                raise SeccompError(f"string {arch} is not a valid arch for seccomp")
            rc = lib.seccomp_arch_add(ctx, token)
            if rc < 0 and rc != -errno.EEXIST:  # the native arch is always there
                raise SeccompError(f"error adding architecture to seccomp filter: {_strerror(-rc)}")
        for flag in seccomp.get("flags") or []:
            if flag not in _FLAGS:
                raise SeccompError(f"seccomp flags {flag!r} not yet supported by runc")
            _check(lib.seccomp_attr_set(ctx, _FLAGS[flag], 1), "error setting seccomp flag")
        # NNP is the spec's business (process.noNewPrivileges), not the filter's.
        _check(lib.seccomp_attr_set(ctx, _ATTR_CTL_NNP, 0), "error setting no_new_privs bit")
        # The same action for every syscall, found by a binary search instead of a chain of
        # ~1000 instructions: the kernel runs the filter for every syscall number when it is
        # loaded (its action cache), so Docker's profile loads in ~0.6 ms instead of ~1.5
        # (every container start and exec). An older libseccomp refuses it: its chain stays.
        lib.seccomp_attr_set(ctx, _ATTR_CTL_OPTIMIZE, 2)
        for rule in seccomp.get("syscalls") or []:
            filt.rules += _add_rule(lib, ctx, rule, default)
    except BaseException:
        filt.release()
        raise
    return filt


def _add_rule(lib: ctypes.CDLL, ctx: int, rule: dict[str, Any], default: int) -> int:
    names = rule.get("names") or ([rule["name"]] if rule.get("name") else [])
    action = _action(rule.get("action", ""), rule.get("errnoRet"))
    conds = [_condition(arg) for arg in rule.get("args") or []]
    if action == default:
        return 0  # redundant with the default: runc skips it silently
    # libseccomp takes one comparison per argument per rule; with two on the same
    # argument, runc falls back to one rule per comparison (an OR, not an AND).
    indexes = [c.arg for c in conds]
    groups = [[c] for c in conds] if len(set(indexes)) != len(indexes) else [conds]
    added = 0
    for name in names:
        if not name:
            raise SeccompError("empty string is not a valid syscall")
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr == _SCMP_ERROR:
            continue  # unknown to this libseccomp/arch: runc ignores it too
        for group in groups:
            array = (_ArgCmp * len(group))(*group)
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(group), array)
            if rc < 0:
                raise SeccompError(f"error adding seccomp filter rule for syscall {name}: {_strerror(-rc)}")
            added += 1
    return added


def _action(name: str, errno_ret: int | None) -> int:
    if name == "SCMP_ACT_NOTIFY":
        raise SeccompError("seccomp: SCMP_ACT_NOTIFY is not supported")
    if name not in _ACTIONS:
        raise SeccompError(f"string {name} is not a valid action for seccomp")
    value = _ACTIONS[name]
    if name in _WITH_RET:
        value |= (errno.EPERM if errno_ret is None else int(errno_ret)) & 0xFFFF
    return value


def _condition(arg: dict[str, Any]) -> _ArgCmp:
    index = int(arg.get("index", 0))
    if not 0 <= index < _MAX_ARGS:
        raise SeccompError(f"syscall argument index {index} out of range (0-{_MAX_ARGS - 1})")
    op = arg.get("op", "")
    if op not in _OPS:
        raise SeccompError(f"string {op} is not a valid operator for seccomp")
    # For MASKED_EQ, value is the mask and valueTwo the datum (libseccomp's order).
    return _ArgCmp(index, _OPS[op], int(arg.get("value", 0)) & (2**64 - 1),
                   int(arg.get("valueTwo", 0)) & (2**64 - 1))


def _arch_name(oci: str) -> str:
    """SCMP_ARCH_X86_64 -> x86_64, libseccomp's own name."""
    if not oci.startswith("SCMP_ARCH_"):
        raise SeccompError(f"string {oci} is not a valid arch for seccomp")
    return oci[len("SCMP_ARCH_"):].lower()


def _check(rc: int, what: str) -> None:
    if rc < 0:
        raise SeccompError(f"{what}: {_strerror(-rc)}")


def _strerror(code: int) -> str:
    text = os.strerror(code)
    return text[:1].lower() + text[1:]
