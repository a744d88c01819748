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

import errno
import os

from berth.common import bpf
from berth.runc.cgroups._fs import CgroupError, go_strerror

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

_PROG_TYPE_CGROUP_DEVICE = 15
_ATTACH_CGROUP_DEVICE = 6

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


def device_program(rules: list[dict[str, Any]]) -> bytes:
    """The eBPF instructions for OCI device rules (r2 type, r3 access, r4 major, r5 minor)."""
    prog = [
        bpf.insn(_LDX_W, 2, 1, 0), bpf.insn(_AND_K, 2, imm=0xFFFF),
        bpf.insn(_LDX_W, 3, 1, 0), bpf.insn(_RSH_K, 3, imm=16),
        bpf.insn(_LDX_W, 4, 1, 4), bpf.insn(_LDX_W, 5, 1, 8),
    ]
    for rule in reversed(rules):
        block = _rule_block(rule)
        prog.extend(block)
        if len(block) == 2:
            # A rule matching everything ("a *:* rwm") decides alone; the verifier
            # refuses code after it as unreachable.
            return b"".join(prog)
    prog += [bpf.insn(_MOV_K, 0, imm=0), bpf.insn(_EXIT)]
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
        body.append(bpf.insn(_MOV_X, 1, 3))
        body.append(bpf.insn(_AND_K, 1, imm=access))
        checks.append((_JNE_X, 1, 3, 0))
    for value, reg in ((rule.get("major"), 4), (rule.get("minor"), 5)):
        if value is not None and value != -1:
            checks.append((_JNE_K, reg, 0, int(value)))
    verdict = [bpf.insn(_MOV_K, 0, imm=1 if rule.get("allow") else 0), bpf.insn(_EXIT)]
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
            out.append(bpf.insn(code, dst, src, total - i - 1, imm))
    return out + verdict


def _attached(dirfd: int) -> list[int]:
    """Ids of the device programs already attached to the cgroup."""
    try:
        return bpf.query(dirfd, _ATTACH_CGROUP_DEVICE)
    except OSError:
        return []


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
    try:
        return bpf.load(_PROG_TYPE_CGROUP_DEVICE, insns)
    except bpf.UnsupportedMachine as e:
        raise CgroupError(f"device rules on cgroup v2: {e.strerror}") from e
    except OSError as e:
        detail = getattr(e, "log", "")
        raise CgroupError(f"loading device cgroup program: {go_strerror(e.errno or 0)}"
                          + (f" ({detail})" if detail else "")) from e


def _attach(dirfd: int, prog_fd: int, cgroup_dir: str, flags: int = bpf.F_ALLOW_MULTI, replace_fd: int = 0) -> None:
    try:
        bpf.attach(dirfd, prog_fd, _ATTACH_CGROUP_DEVICE, flags, replace_fd)
    except OSError as e:
        raise CgroupError(f"attaching device cgroup program to {cgroup_dir}: {go_strerror(e.errno or 0)}") from e


def _replace(dirfd: int, prog_fd: int, old_id: int, cgroup_dir: str) -> bool:
    """Swap the attached program `old_id` for `prog_fd` atomically; False if the kernel cannot."""
    old_fd = _fd_of(old_id)
    if old_fd < 0:
        return False  # gone meanwhile: nothing to replace
    try:
        _attach(dirfd, prog_fd, cgroup_dir, bpf.F_ALLOW_MULTI | bpf.F_REPLACE, old_fd)
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
    try:
        return bpf.prog_fd(prog_id)
    except OSError as e:
        raise CgroupError(f"finding old device program {prog_id}: {go_strerror(e.errno or 0)}") from e


def _detach(dirfd: int, prog_id: int) -> None:
    fd = _fd_of(prog_id)
    if fd < 0:
        return
    try:
        bpf.detach(dirfd, fd, _ATTACH_CGROUP_DEVICE)
    except OSError as e:
        raise CgroupError(f"detaching old device program {prog_id}: {go_strerror(e.errno or 0)}") from e
    finally:
        os.close(fd)
