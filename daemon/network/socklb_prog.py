"""The two eBPF programs of the socket load-balancer (socklb.py), assembled by hand as
berth-runc's device filter is (common/bpf.py's encoders): a few dozen instructions,
no compiler, no libbpf.

Their context is struct bpf_sock_addr (include/uapi/linux/bpf.h): user_ip4 at 4 and
user_port at 24, both in network byte order (the port in the low 16 bits of its u32),
type at 32, protocol at 36. A key and a value of the maps are the same 8 bytes, ip then
port exactly as the context holds them (socklb.endpoint packs them), so the programs
copy words and never convert.

connect4, for a connect() of a TCP socket of the host's network namespace (type
SOCK_STREAM and protocol TCP: an SCTP one-to-one socket is a stream too, and a port
published for TCP is not its; an MPTCP socket's connect is its first TCP subflow's,
which the hook sees, and is rewritten as TCP's):
  look (ip, port) up in the services map, and for 127.0.0.0/8 (0.0.0.0, port) too
  (a port published on every address); on a hit write the container's ip and port into
  the context (the kernel connects there instead) and remember what the socket asked
  for in the origins map, under the socket's cookie. Always returns 1 (allow): a
  return of 0 would refuse the connect, and this program sees every connect of the host.
getpeername4: the socket's cookie in the origins map -> put the address it asked for
  back, so getpeername() shows 127.0.0.1:PORT as it would through NAT."""

from __future__ import annotations

from berth.common.bpf import insn, ld_imm64, ld_map_fd

# Opcodes (include/uapi/linux/bpf_common.h, bpf.h).
_LDX_W, _LDX_B, _STX_W, _STX_DW, _ST_W = 0x61, 0x71, 0x63, 0x7B, 0x62
_MOV_X, _MOV_K, _ADD_K = 0xBF, 0xB7, 0x07
_JEQ_K, _JNE_K, _JNE_X = 0x15, 0x55, 0x5D
_CALL, _EXIT = 0x85, 0x95
# Helpers (enum bpf_func_id).
_MAP_LOOKUP, _MAP_UPDATE, _GET_SOCKET_COOKIE, _GET_NETNS_COOKIE = 1, 2, 46, 122
# struct bpf_sock_addr
_USER_IP4, _USER_PORT, _TYPE, _PROTOCOL = 4, 24, 32, 36
_SOCK_STREAM, _IPPROTO_TCP = 1, 6
_FP = 10  # the frame pointer

_Item = bytes | tuple[int, int, int, int, str] | str  # an insn, a jump (code, dst, src, imm, label), a label


def _assemble(items: list[_Item]) -> bytes:
    """Jumps name their target label; offsets are in 8-byte slots (ld_imm64 takes two)."""
    at: dict[str, int] = {}
    slot = 0
    for it in items:
        if isinstance(it, str):
            at[it] = slot
        else:
            slot += len(it) // 8 if isinstance(it, bytes) else 1
    out, slot = [], 0
    for it in items:
        if isinstance(it, str):
            continue
        if isinstance(it, tuple):
            code, dst, src, imm, label = it
            it = insn(code, dst, src, at[label] - slot - 1, imm)
        out.append(it)
        slot += len(it) // 8
    return b"".join(out)


def _lookup(map_fd: int, key_off: int) -> list[_Item]:
    """r0 = map_lookup_elem(map, fp + key_off)."""
    return [ld_map_fd(1, map_fd), insn(_MOV_X, 2, _FP), insn(_ADD_K, 2, imm=key_off), insn(_CALL, imm=_MAP_LOOKUP)]


def _rewrite_from_r0() -> list[_Item]:
    """The 8 bytes r0 points at (ip, port) into the context's user_ip4 and user_port."""
    return [insn(_LDX_W, 2, 0, 0), insn(_LDX_W, 3, 0, 4),
            insn(_STX_W, 6, 2, _USER_IP4), insn(_STX_W, 6, 3, _USER_PORT)]


def connect4(netns_cookie: int, services_fd: int, origins_fd: int) -> bytes:
    items: list[_Item] = [
        insn(_MOV_X, 6, 1),  # r6: the context, kept across calls
        insn(_LDX_W, 0, 6, _TYPE),
        (_JNE_K, 0, 0, _SOCK_STREAM, "out"),  # UDP stays on DNAT
        insn(_LDX_W, 0, 6, _PROTOCOL),
        (_JNE_K, 0, 0, _IPPROTO_TCP, "out"),  # so does SCTP
        insn(_MOV_X, 1, 6), insn(_CALL, imm=_GET_NETNS_COOKIE),
        ld_imm64(1, netns_cookie),
        (_JNE_X, 0, 1, 0, "out"),  # another namespace's socket (a container's, another dockerd's)
        # key at fp-8: the address asked for; kept there as the origin's value
        insn(_LDX_W, 2, 6, _USER_IP4), insn(_STX_W, _FP, 2, -8),
        insn(_LDX_W, 3, 6, _USER_PORT), insn(_STX_W, _FP, 3, -4),
        *_lookup(services_fd, -8),
        (_JNE_K, 0, 0, 0, "found"),
        # 127.0.0.0/8: a binding on every address, key (0.0.0.0, port) at fp-16
        insn(_LDX_B, 2, _FP, -8),
        (_JNE_K, 2, 0, 127, "out"),
        insn(_ST_W, _FP, 0, -16, 0),
        insn(_LDX_W, 3, _FP, -4), insn(_STX_W, _FP, 3, -12),
        *_lookup(services_fd, -16),
        (_JEQ_K, 0, 0, 0, "out"),
        "found",
        *_rewrite_from_r0(),
        insn(_MOV_X, 1, 6), insn(_CALL, imm=_GET_SOCKET_COOKIE),
        insn(_STX_DW, _FP, 0, -24),
        ld_map_fd(1, origins_fd),
        insn(_MOV_X, 2, _FP), insn(_ADD_K, 2, imm=-24),
        insn(_MOV_X, 3, _FP), insn(_ADD_K, 3, imm=-8),
        insn(_MOV_K, 4, imm=0),  # BPF_ANY
        insn(_CALL, imm=_MAP_UPDATE),
        "out",
        insn(_MOV_K, 0, imm=1), insn(_EXIT),
    ]
    return _assemble(items)


def getpeername4(origins_fd: int) -> bytes:
    items: list[_Item] = [
        insn(_MOV_X, 6, 1),
        insn(_CALL, imm=_GET_SOCKET_COOKIE),  # r1 is still the context
        insn(_STX_DW, _FP, 0, -8),
        *_lookup(origins_fd, -8),
        (_JEQ_K, 0, 0, 0, "out"),
        *_rewrite_from_r0(),
        "out",
        insn(_MOV_K, 0, imm=1), insn(_EXIT),
    ]
    return _assemble(items)
