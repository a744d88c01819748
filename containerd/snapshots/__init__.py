"""Overlay snapshots: committed layers by chain id, active snapshots per container, and their mounts."""

from .mounts import Mount
from .overlay import Snapshotter, chain_id

__all__ = ["Mount", "Snapshotter", "chain_id"]
