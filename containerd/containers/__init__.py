"""Container records, their writable snapshots, and --user resolved against the image."""

from .service import ContainerService, NewContainer

__all__ = ["ContainerService", "NewContainer"]
