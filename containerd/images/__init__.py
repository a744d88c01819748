"""Image records: import, names (references), deletion rules."""

from .service import ImageService

__all__ = ["ImageService"]
