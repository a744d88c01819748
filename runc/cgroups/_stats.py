"""The shape of `runc events --stats` "data", shared by the v1 and v2 readers.

runc marshals Go structs whose fields are mostly `omitempty`; these helpers drop
the same zero fields so that our JSON matches runc's key for key.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~2 ms per CLI start; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

MAX_UINT64 = (1 << 64) - 1


def drop_zero(d: dict[str, Any], *keep: str) -> dict[str, Any]:
    """`d` without its zero/empty values, except the keys in `keep` (non-omitempty fields)."""
    return {k: v for k, v in d.items() if k in keep or v not in (0, None, [], {}, "")}


def memory_entry(limit: int = 0, usage: int = 0, max_usage: int = 0, failcnt: int = 0) -> dict[str, int]:
    return drop_zero({"limit": limit, "usage": usage, "max": max_usage, "failcnt": failcnt}, "limit", "failcnt")


def empty() -> dict[str, Any]:
    return {
        "cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
        "memory": {"usage": memory_entry(), "swap": memory_entry(), "kernel": memory_entry(),
                   "kernelTCP": memory_entry()},
        "pids": {},
        "blkio": {},
        "hugetlb": {},
        "intel_rdt": {},
        "network_interfaces": None,
    }


def parse_list(text: str) -> list[int]:
    """A kernel cpu/node list ("0-3,8") as numbers."""
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out
