"""The content store: immutable blobs addressed by sha256, verified on write."""

from .store import ContentStore

__all__ = ["ContentStore"]
