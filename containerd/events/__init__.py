"""Events: fan-out of published events to every Subscribe stream."""

from .bus import EventBus

__all__ = ["EventBus"]
