"""nftables through libnftables in berthd's own process (ctypes), instead of a `nft -f -`
child per change: the same parser and the same one-transaction commit, without the
fork and exec (1-6 ms against 16-32 ms here, paid at every start and exit of a
container with published ports and at every network create and remove). libnftables
is the library the nft command is built on (Debian's nftables package depends on it);
where it cannot be loaded, nat.py runs the nft command as before."""

from __future__ import annotations

import ctypes
import threading

_lock = threading.Lock()
_ctx: ctypes.c_void_p | None = None
_lib: ctypes.CDLL | None = None


def _load() -> ctypes.CDLL | None:
    global _lib, _ctx
    if _lib is None:
        try:
            lib = ctypes.CDLL("libnftables.so.1")
        except OSError:
            return None
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        ctx = lib.nft_ctx_new(0)
        if not ctx:
            return None
        lib.nft_ctx_buffer_error(ctx)  # errors and listings kept for us, not printed on berthd's stdio
        lib.nft_ctx_buffer_output(ctx)
        _lib, _ctx = lib, ctx
    return _lib


def available() -> bool:
    with _lock:
        return _load() is not None


def run(commands: str) -> tuple[int, str, str]:
    """(0 or the error status, output, error text) of one nft script, as `nft -f -` gives them."""
    with _lock:
        lib = _load()
        assert lib is not None and _ctx is not None
        rc = lib.nft_run_cmd_from_buffer(_ctx, commands.encode())
        out = (lib.nft_ctx_get_output_buffer(_ctx) or b"").decode(errors="replace")
        err = (lib.nft_ctx_get_error_buffer(_ctx) or b"").decode(errors="replace")
    return (0 if rc == 0 else 1), out, err


# loaded at import, in berthd's main thread: the context's netlink socket belongs to the
# host's namespace, whatever namespace the worker thread visits later
available()
