"""berth-containerd's WritableLayer RPC (containerd/diff/changes.py): a container's
writable layer, its size and docker's change list, as plain values for
daemon/containers/sizes.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from berth.proto import containerd_pb2 as pb

from .client import CALL_TIMEOUT, Containerd


@dataclass
class WritableLayer:
    size: int                                                     # bytes: docker's SizeRw
    changes: list[tuple[str, int]] = field(default_factory=list)  # (path, kind): 0 C, 1 A, 2 D


async def writable_layer(ctrd: Containerd, cid: str, changes: bool = False) -> WritableLayer:
    """Asked only for the size, berth-containerd skips comparing with the image's layers."""
    m = await ctrd._call(f"container {cid} writable layer", ctrd._containers.WritableLayer(
        pb.WritableLayerRequest(id=cid, changes=changes), wait_for_ready=True, timeout=CALL_TIMEOUT))
    return WritableLayer(m.size, [(c.path, c.kind) for c in m.changes])
