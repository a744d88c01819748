"""Metadata in SQLite: images and their names, containers, snapshot records."""

from .store import ContainerRecord, ImageRecord, Metadata, SnapshotRecord

__all__ = ["ContainerRecord", "ImageRecord", "Metadata", "SnapshotRecord"]
