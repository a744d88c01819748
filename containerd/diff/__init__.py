"""Layers applied to snapshots (unpack, whiteouts); later also compared for commit and build."""

from .apply import apply_layer

__all__ = ["apply_layer"]
