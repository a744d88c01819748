"""Device rules on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program, attached to the cgroup.

cgroup v2 has no devices.allow/deny; the kernel asks an eBPF program attached to
the cgroup (BPF_CGROUP_DEVICE) for every open and mknod of a device node. We
assemble that program from the OCI rules, as runc's devicefilter does: the rules are
checked from the last to the first, the first match decides (so the last rule in
the spec wins, as with v1), and nothing matching means deny.

The program's context is struct bpf_cgroup_dev_ctx {u32 access_type; u32 major;
u32 minor;}, access_type being (access << 16) | type (include/uapi/linux/bpf.h).
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from berth.runc.cgroups._fs import CgroupError, go_strerror

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

_BPF_SYSCALL = {"x86_64": 321, "aarch64": 280, "armv7l": 386, "ppc64le": 361, "s390x": 351, "riscv64": 280}
_PROG_LOAD, _PROG_ATTACH, _PROG_DETACH, _PROG_GET_FD_BY_ID, _PROG_QUERY = 5, 8, 9, 13, 16
_PROG_TYPE_CGROUP_DEVICE = 15
_ATTACH_CGROUP_DEVICE = 6
_F_ALLOW_MULTI, _F_REPLACE = 2, 4

_DEV_BLOCK, _DEV_CHAR = 1, 2
_ACC = {"m": 1, "r": 2, "w": 4}

# Opcodes (include/uapi/linux/bpf_common.h, bpf.h).
_LDX_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W
_AND_K = 0x57  # BPF_ALU64 | BPF_AND | BPF_K
_RSH_K = 0x77  # BPF_ALU64 | BPF_RSH | BPF_K
_MOV_X = 0xBF  # BPF_ALU64 | BPF_MOV | BPF_X
_MOV_K = 0xB7  # BPF_ALU64 | BPF_MOV | BPF_K
_JNE_K = 0x55  # BPF_JMP | BPF_JNE | BPF_K
_JNE_X = 0x5D  # BPF_JMP | BPF_JNE | BPF_X
_EXIT = 0x95


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def device_program(rules: list[dict[str, Any]]) -> bytes:
    """The eBPF instructions for OCI device rules (r2 type, r3 access, r4 major, r5 minor)."""
    prog = [
        _insn(_LDX_W, 2, 1, 0), _insn(_AND_K, 2, imm=0xFFFF),
        _insn(_LDX_W, 3, 1, 0), _insn(_RSH_K, 3, imm=16),
        _insn(_LDX_W, 4, 1, 4), _insn(_LDX_W, 5, 1, 8),
    ]
    for rule in reversed(rules):
        block = _rule_block(rule)
        prog.extend(block)
        if len(block) == 2:
            # A rule matching everything ("a *:* rwm") decides alone; the verifier
            # refuses code after it as unreachable.
            return b"".join(prog)
    prog += [_insn(_MOV_K, 0, imm=0), _insn(_EXIT)]
    return b"".join(prog)


def _rule_block(rule: dict[str, Any]) -> list[bytes]:
    """Instructions that return the rule's verdict when it matches, else fall through."""
    checks: list[tuple[int, int, int, int]] = []  # (code, dst, src, imm); each jumps past the block on mismatch
    kind = rule.get("type") or "a"
    if kind in ("b", "c"):
        checks.append((_JNE_K, 2, 0, _DEV_BLOCK if kind == "b" else _DEV_CHAR))
    access = 0
    for ch in rule.get("access") or "rwm":
        access |= _ACC[ch]
    body: list[bytes] = []
    if access != 7:
        # The requested access must be a subset of the rule's: (r3 & acc) == r3.
        body.append(_insn(_MOV_X, 1, 3))
        body.append(_insn(_AND_K, 1, imm=access))
        checks.append((_JNE_X, 1, 3, 0))
    for value, reg in ((rule.get("major"), 4), (rule.get("minor"), 5)):
        if value is not None and value != -1:
            checks.append((_JNE_K, reg, 0, int(value)))
    verdict = [_insn(_MOV_K, 0, imm=1 if rule.get("allow") else 0), _insn(_EXIT)]
    # Lay out: type check, access computation + check, major, minor, verdict.
    ordered: list[bytes | tuple[int, int, int, int]] = []
    if kind in ("b", "c"):
        ordered.append(checks.pop(0))
    ordered.extend(body)
    ordered.extend(checks)
    total = len(ordered) + len(verdict)
    out: list[bytes] = []
    for i, item in enumerate(ordered):
        if isinstance(item, bytes):
            out.append(item)
        else:
            code, dst, src, imm = item
            out.append(_insn(code, dst, src, total - i - 1, imm))
    return out + verdict


def _bpf(cmd: int, attr: bytearray) -> int:
    nr = _BPF_SYSCALL.get(os.uname().machine)
    if nr is None:
        raise CgroupError(f"device rules on cgroup v2: unsupported machine {os.uname().machine}")
    libc = ctypes.CDLL(None, use_errno=True)
    buf = (ctypes.c_char * len(attr)).from_buffer(attr)
    ret = libc.syscall(ctypes.c_long(nr), ctypes.c_int(cmd), buf, ctypes.c_uint(len(attr)))
    if ret < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return ret


def _attached(dirfd: int) -> list[int]:
    """Ids of the device programs already attached to the cgroup."""
    ids = (ctypes.c_uint32 * 64)()
    attr = bytearray(40)
    struct.pack_into("<IIII", attr, 0, dirfd, _ATTACH_CGROUP_DEVICE, 0, 0)
    struct.pack_into("<QI", attr, 16, ctypes.addressof(ids), 64)
    try:
        _bpf(_PROG_QUERY, attr)
    except OSError:
        return []
    count = struct.unpack_from("<I", attr, 24)[0]
    return list(ids[:count])


def apply_device_rules(cgroup_dir: str, rules: list[dict[str, Any]]) -> None:
    """Load the program for `rules` and make it the cgroup's only device program, with no gap.

    With one program attached (ours, from create or an earlier update) the kernel
    swaps it for the new one in one step (BPF_F_REPLACE, Linux 5.6+). Otherwise the
    new one is attached before the old ones are detached: while both are there both
    must allow (BPF_F_ALLOW_MULTI), so a device allowed before and after never is
    denied, and there is never a moment with no program at all.
    """
    prog_fd = _load(device_program(rules))
    dirfd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        old = _attached(dirfd)
        if len(old) == 1 and _replace(dirfd, prog_fd, old[0], cgroup_dir):
            return
        _attach(dirfd, prog_fd, cgroup_dir)
        for prog_id in old:
            _detach(dirfd, prog_id)
    finally:
        os.close(dirfd)
        os.close(prog_fd)


def _load(insns: bytes) -> int:
    license_ = ctypes.create_string_buffer(b"Apache")
    code = ctypes.create_string_buffer(insns, len(insns))
    log = ctypes.create_string_buffer(65536)
    attr = bytearray(128)
    struct.pack_into("<IIQQIIQ", attr, 0, _PROG_TYPE_CGROUP_DEVICE, len(insns) // 8, ctypes.addressof(code),
                     ctypes.addressof(license_), 1, len(log), ctypes.addressof(log))
    try:
        return _bpf(_PROG_LOAD, attr)
    except OSError as e:
        detail = log.value.decode(errors="replace").strip().splitlines()
        raise CgroupError(f"loading device cgroup program: {go_strerror(e.errno or 0)}"
                          + (f" ({detail[-1]})" if detail else "")) from e


def _attach(dirfd: int, prog_fd: int, cgroup_dir: str, flags: int = _F_ALLOW_MULTI, replace_fd: int = 0) -> None:
    attach = bytearray(20)  # target_fd, attach_bpf_fd, attach_type, attach_flags, replace_bpf_fd
    struct.pack_into("<IIIII", attach, 0, dirfd, prog_fd, _ATTACH_CGROUP_DEVICE, flags, replace_fd)
    try:
        _bpf(_PROG_ATTACH, attach)
    except OSError as e:
        raise CgroupError(f"attaching device cgroup program to {cgroup_dir}: {go_strerror(e.errno or 0)}") from e


def _replace(dirfd: int, prog_fd: int, old_id: int, cgroup_dir: str) -> bool:
    """Swap the attached program `old_id` for `prog_fd` atomically; False if the kernel cannot."""
    old_fd = _fd_of(old_id)
    if old_fd < 0:
        return False  # gone meanwhile: nothing to replace
    try:
        _attach(dirfd, prog_fd, cgroup_dir, _F_ALLOW_MULTI | _F_REPLACE, old_fd)
    except CgroupError as e:
        # EINVAL: a kernel before 5.6 (no BPF_F_REPLACE); fall back to attach + detach.
        if getattr(e.__cause__, "errno", None) in (errno.EINVAL, errno.EOPNOTSUPP):
            return False
        raise
    finally:
        os.close(old_fd)
    return True


def _fd_of(prog_id: int) -> int:
    """An fd for an attached program's id, or -1 if it no longer exists."""
    get = bytearray(12)
    struct.pack_into("<I", get, 0, prog_id)
    try:
        return _bpf(_PROG_GET_FD_BY_ID, get)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return -1
        raise CgroupError(f"finding old device program {prog_id}: {go_strerror(e.errno or 0)}") from e


def _detach(dirfd: int, prog_id: int) -> None:
    fd = _fd_of(prog_id)
    if fd < 0:
        return
    try:
        detach = bytearray(20)
        struct.pack_into("<III", detach, 0, dirfd, fd, _ATTACH_CGROUP_DEVICE)
        _bpf(_PROG_DETACH, detach)
    except OSError as e:
        raise CgroupError(f"detaching old device program {prog_id}: {go_strerror(e.errno or 0)}") from e
    finally:
        os.close(fd)
