"""Docker's /events: what happened to containers and images, in docker's message shape,
kept for `since` and fanned out to every follower (log.py); filters (filters.py);
the times `since`/`until` take (times.py)."""

from .log import EventLog

__all__ = ["EventLog"]
