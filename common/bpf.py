"""The bpf() system call for berth's own eBPF programs, without libbpf: berth-runc's
device filter (runc/cgroups/ebpf.py) assembles its few instructions itself and loads,
attaches, queries and replaces them through these wrappers; berthd finds and detaches
what an older berthd left at the cgroup2 root with them (daemon/network/stale_bpf.py).

Every wrapper raises OSError with the kernel's errno; a refused program's OSError
carries the verifier's last line (its statistics left out) as `.log`. The attr layouts
are union bpf_attr's (include/uapi/linux/bpf.h); fields not set stay zero, as the
kernel requires."""

from __future__ import annotations

import ctypes
import errno
import os
import struct

_SYSCALL = {"x86_64": 321, "aarch64": 280, "armv7l": 386, "ppc64le": 361, "s390x": 351, "riscv64": 280}
PROG_LOAD, PROG_ATTACH, PROG_DETACH, PROG_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD, PROG_QUERY = 5, 8, 9, 13, 15, 16
F_ALLOW_MULTI, F_REPLACE = 2, 4
OBJ_NAME_LEN = 16  # with its NUL

_libc: ctypes.CDLL | None = None


class UnsupportedMachine(OSError):
    pass


def syscall(cmd: int, attr: bytearray) -> int:
    global _libc
    nr = _SYSCALL.get(os.uname().machine)
    if nr is None:
        raise UnsupportedMachine(errno.ENOSYS, f"bpf(): unsupported machine {os.uname().machine}")
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    buf = (ctypes.c_char * len(attr)).from_buffer(attr)
    ret = _libc.syscall(ctypes.c_long(nr), ctypes.c_int(cmd), buf, ctypes.c_uint(len(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


# ------------------------------------------------------------------ instructions
def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _name(name: str) -> bytes:
    raw = name.encode()[:OBJ_NAME_LEN - 1]
    return raw + b"\0" * (OBJ_NAME_LEN - len(raw))


# ------------------------------------------------------------------ programs
def load(prog_type: int, insns: bytes, name: str = "", expected_attach_type: int = 0,
         license_: bytes = b"Apache") -> int:
    """A program's fd; OSError with `.log` (the verifier's last line) when refused.
    Loaded without the verifier's log (berth-runc's device filter loads at every
    container start on cgroup v2: no 64 KiB buffer for the kernel to fill), loaded once
    more with it only to tell why a refused one was."""
    try:
        return _load(prog_type, insns, name, expected_attach_type, license_, None)
    except OSError as e:
        log = ctypes.create_string_buffer(65536)
        try:
            return _load(prog_type, insns, name, expected_attach_type, license_, log)
        except OSError:
            lines = log.value.decode(errors="replace").strip().splitlines()
            if lines and lines[-1].startswith("processed "):
                lines.pop()  # the verifier's statistics ("processed 1 insns (limit ...")
            e.log = lines[-1] if lines else ""  # type: ignore[attr-defined]
        raise e


def _load(prog_type: int, insns: bytes, name: str, expected_attach_type: int, license_: bytes,
          log: ctypes.Array | None) -> int:
    lic = ctypes.create_string_buffer(license_)
    code = ctypes.create_string_buffer(insns, len(insns))
    attr = bytearray(128)
    struct.pack_into("<IIQQIIQ", attr, 0, prog_type, len(insns) // 8, ctypes.addressof(code),
                     ctypes.addressof(lic), *((1, len(log), ctypes.addressof(log)) if log is not None else (0, 0, 0)))
    attr[48:64] = _name(name)
    struct.pack_into("<I", attr, 68, expected_attach_type)
    return syscall(PROG_LOAD, attr)


def attach(target_fd: int, prog_fd: int, attach_type: int, flags: int = F_ALLOW_MULTI,
           replace_fd: int = 0) -> None:
    attr = bytearray(20)  # target_fd, attach_bpf_fd, attach_type, attach_flags, replace_bpf_fd
    struct.pack_into("<IIIII", attr, 0, target_fd, prog_fd, attach_type, flags, replace_fd)
    syscall(PROG_ATTACH, attr)


def detach(target_fd: int, prog_fd: int, attach_type: int) -> None:
    attr = bytearray(20)
    struct.pack_into("<III", attr, 0, target_fd, prog_fd, attach_type)
    syscall(PROG_DETACH, attr)


def query(target_fd: int, attach_type: int) -> list[int]:
    """Ids of the programs attached to `target_fd` (a cgroup) at `attach_type`. Room
    for 64: the most a cgroup takes at one hook (BPF_CGROUP_MAX_PROGS, E2BIG beyond),
    and the query is of the cgroup's own, not the effective ones its ancestors' add to."""
    ids = (ctypes.c_uint32 * 64)()
    attr = bytearray(40)
    struct.pack_into("<IIII", attr, 0, target_fd, attach_type, 0, 0)
    struct.pack_into("<QI", attr, 16, ctypes.addressof(ids), 64)
    syscall(PROG_QUERY, attr)
    count = struct.unpack_from("<I", attr, 24)[0]
    return list(ids[:count])


def prog_fd(prog_id: int) -> int:
    """An fd for a program's id, or -1 if it no longer exists."""
    attr = bytearray(12)
    struct.pack_into("<I", attr, 0, prog_id)
    try:
        return syscall(PROG_GET_FD_BY_ID, attr)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return -1
        raise


def prog_info(fd: int) -> tuple[int, str]:
    """A loaded program's id and name (struct bpf_prog_info)."""
    info = ctypes.create_string_buffer(80)
    _info(fd, info)
    return struct.unpack_from("<I", info, 4)[0], info.raw[64:80].split(b"\0", 1)[0].decode(errors="replace")


def _info(fd: int, info: ctypes.Array) -> None:
    attr = bytearray(16)
    struct.pack_into("<IIQ", attr, 0, fd, len(info), ctypes.addressof(info))
    syscall(OBJ_GET_INFO_BY_FD, attr)
