"""The bpf() system call for berth's own eBPF programs, without libbpf: berth-runc's
device filter (runc/cgroups/ebpf.py) and berthd's socket load-balancer for published
ports (daemon/network/socklb.py) assemble their few instructions themselves and load,
attach, query and fill maps through these wrappers.

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
(MAP_CREATE, MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM, MAP_DELETE_ELEM, MAP_GET_NEXT_KEY, PROG_LOAD) = range(6)
PROG_ATTACH, PROG_DETACH, PROG_GET_FD_BY_ID, MAP_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD, PROG_QUERY = 8, 9, 13, 14, 15, 16
F_ALLOW_MULTI, F_REPLACE = 2, 4
PSEUDO_MAP_FD = 1  # ld_imm64's src: the immediate is a map's fd, the kernel puts the map's address
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


def ld_imm64(dst: int, imm: int, src: int = 0) -> bytes:
    """BPF_LD | BPF_DW | BPF_IMM: two slots, the low then the high 32 bits."""
    imm &= (1 << 64) - 1
    lo, hi = imm & 0xFFFFFFFF, imm >> 32
    return (struct.pack("<BBhI", 0x18, (src << 4) | dst, 0, lo)
            + struct.pack("<BBhI", 0, 0, 0, hi))


def ld_map_fd(dst: int, map_fd: int) -> bytes:
    return ld_imm64(dst, map_fd, PSEUDO_MAP_FD)


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
    return _fd_by_id(PROG_GET_FD_BY_ID, prog_id)


def map_fd(map_id: int) -> int:
    return _fd_by_id(MAP_GET_FD_BY_ID, map_id)


def _fd_by_id(cmd: int, obj_id: int) -> int:
    attr = bytearray(12)
    struct.pack_into("<I", attr, 0, obj_id)
    try:
        return syscall(cmd, attr)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return -1
        raise


def prog_info(fd: int) -> tuple[int, str, list[int]]:
    """A loaded program's id, name and the ids of the maps it uses (struct bpf_prog_info)."""
    ids = (ctypes.c_uint32 * 8)()
    info = ctypes.create_string_buffer(80)
    struct.pack_into("<IQ", info, 52, 8, ctypes.addressof(ids))  # nr_map_ids, map_ids
    _info(fd, info)
    prog_id, nr = struct.unpack_from("<I", info, 4)[0], struct.unpack_from("<I", info, 52)[0]
    return prog_id, info.raw[64:80].split(b"\0", 1)[0].decode(errors="replace"), list(ids[:min(nr, 8)])


def map_info(fd: int) -> tuple[int, int, int, str]:
    """A map's (type, key size, value size, name) (struct bpf_map_info)."""
    info = ctypes.create_string_buffer(48)
    _info(fd, info)
    kind, _, key, value = struct.unpack_from("<IIII", info, 0)
    return kind, key, value, info.raw[24:40].split(b"\0", 1)[0].decode(errors="replace")


def _info(fd: int, info: ctypes.Array) -> None:
    attr = bytearray(16)
    struct.pack_into("<IIQ", attr, 0, fd, len(info), ctypes.addressof(info))
    syscall(OBJ_GET_INFO_BY_FD, attr)


# ------------------------------------------------------------------ maps
def map_create(map_type: int, key_size: int, value_size: int, max_entries: int, name: str = "",
               flags: int = 0) -> int:
    attr = bytearray(72)
    struct.pack_into("<IIIII", attr, 0, map_type, key_size, value_size, max_entries, flags)
    attr[28:44] = _name(name)
    return syscall(MAP_CREATE, attr)


def _elem(cmd: int, fd: int, key: bytes, value: ctypes.Array | None = None, flags: int = 0) -> None:
    k = ctypes.create_string_buffer(key, len(key))
    attr = bytearray(32)  # map_fd, (pad), key, value or next_key, flags
    struct.pack_into("<IIQQQ", attr, 0, fd, 0, ctypes.addressof(k), ctypes.addressof(value) if value else 0,
                     flags)
    syscall(cmd, attr)


def map_update(fd: int, key: bytes, value: bytes, flags: int = 0) -> None:
    _elem(MAP_UPDATE_ELEM, fd, key, ctypes.create_string_buffer(value, len(value)), flags)


def map_delete(fd: int, key: bytes) -> None:
    _elem(MAP_DELETE_ELEM, fd, key)


def map_lookup(fd: int, key: bytes, value_size: int) -> bytes | None:
    out = ctypes.create_string_buffer(value_size)
    try:
        _elem(MAP_LOOKUP_ELEM, fd, key, out)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return None
        raise
    return out.raw


def map_items(fd: int, key_size: int, value_size: int) -> dict[bytes, bytes]:
    """Every entry of a hash map, walked with MAP_GET_NEXT_KEY (no key: the first)."""
    items: dict[bytes, bytes] = {}
    nxt = ctypes.create_string_buffer(key_size)
    attr = bytearray(32)
    struct.pack_into("<IIQQ", attr, 0, fd, 0, 0, ctypes.addressof(nxt))
    cur = ctypes.create_string_buffer(key_size)
    while True:
        try:
            syscall(MAP_GET_NEXT_KEY, attr)
        except OSError as e:
            if e.errno == errno.ENOENT:
                return items
            raise
        key = nxt.raw
        value = map_lookup(fd, key, value_size)
        if value is not None:
            items[key] = value
        ctypes.memmove(cur, key, key_size)
        struct.pack_into("<Q", attr, 8, ctypes.addressof(cur))
